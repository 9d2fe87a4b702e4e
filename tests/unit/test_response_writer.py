"""A response leaves in one write when its body follows its headers at once; a streamed one still gets its headers
first, and nothing is reordered or lost (the HTTP server's own ResponseWriter, and uvicorn through it)."""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.types import Receive, Scope, Send

from omnitrail import event_loop
from omnitrail.http_server import BoundedHttpProtocol, ResponseWriter, server_config
from omnitrail.local_stack import free_port
from omnitrail.settings import AppSettings

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def writer() -> tuple[ResponseWriter, Recording]:
    transport = Recording()
    return ResponseWriter(transport, asyncio.get_running_loop()), transport  # type: ignore[arg-type]


async def test_headers_and_body_written_in_the_same_turn_leave_together() -> None:
    out, transport = writer()
    out.write(b"HTTP/1.1 200 OK\r\n\r\n")
    out.write(b"body")
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_headers_of_a_body_that_comes_later_leave_at_the_end_of_the_turn() -> None:
    out, transport = writer()
    out.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []
    await asyncio.sleep(0.01)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    out.write(b"chunk")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n", b"chunk"]


async def test_100_continue_is_never_held_and_close_sends_what_is() -> None:
    out, transport = writer()
    out.write(CONTINUE)
    assert transport.writes == [CONTINUE]
    out.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    out.close()
    assert transport.writes == [CONTINUE, b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]
    assert transport.closed


def test_through_the_server_a_stream_gets_its_headers_before_its_body_and_keep_alive_answers_in_order() -> None:
    writers: list[bool] = []  # per request: whether the server wrote its response through a ResponseWriter

    async def main() -> tuple[bytes, bytes, bytes]:
        release = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            await receive()
            for connection in server.server_state.connections:
                assert isinstance(connection, BoundedHttpProtocol)
                writers.append(isinstance(connection.cycle.transport, ResponseWriter))
            if scope["path"] == "/stream":
                await send(
                    {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
                )
                await release.wait()
                await send({"type": "http.response.body", "body": b"late"})
                return
            body = scope["path"].encode()
            headers = [(b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        port = free_port()
        config = server_config(app, AppSettings(http_host="127.0.0.1", http_port=port))
        config.lifespan = "off"
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # before the body exists
        release.set()
        streamed = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
        writer.write(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /bb HTTP/1.1\r\nHost: t\r\n\r\n")  # pipelined
        answers = b""
        while not answers.endswith(b"/bb"):
            answers += await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
        server.should_exit = True
        await serving
        return headers, streamed, answers

    headers, streamed, answers = event_loop.run(main())
    assert writers == [True, True, True]
    assert headers.startswith(b"HTTP/1.1 200 OK\r\n")
    assert streamed == b"4\r\nlate\r\n0\r\n\r\n"
    first, second = answers.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"\r\n\r\n/a")
    assert second.endswith(b"\r\n\r\n/bb")
