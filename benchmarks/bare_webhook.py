"""The webhook benchmark's reference: a bare aiohttp server (one process, uvloop, as the connector runs) that
reads each request's body and answers 200 with an empty TwiML response. No signature check, no parsing, no
broker: what one Python process on this machine can serve at all, to compare the connector with.

Usage: python benchmarks/bare_webhook.py PORT
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from omnitrail import event_loop

EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response />'


async def ack(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=EMPTY, content_type="text/xml")


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_post("/webhooks/twilio/messages", ack)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    event_loop.run(serve(int(sys.argv[1])))
