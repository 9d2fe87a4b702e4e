"""How every HTTP process serves its app: uvicorn, bounded so one process survives the open internet.

uvicorn limits neither how long a client may take to send a request's headers (a connection that
sends nothing, or a byte every few seconds, is held forever) nor, with its httptools parser, how
large they may be (a 48 MiB header was buffered whole). :class:`BoundedHttpProtocol` adds both:
the headers of each request must be complete within ``OMNITRAIL_HTTP_HEADER_TIMEOUT_S`` of its
first byte (of the connection, for the first request), else 408 and the connection is closed; the
request line and headers together may hold ``OMNITRAIL_HTTP_MAX_HEADER_BYTES``, else 431. Bodies
are bounded where they are read (``connectors.webhook.read_body``, ``omnitrail.request_limits``);
idle keep-alive connections are closed by uvicorn after five seconds.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from ``OMNITRAIL_TRUSTED_PROXIES``
(uvicorn's default trusts them from loopback, so anyone on the machine, or a proxy that passes the
header through, could pick the client address the sign-in and token throttles count).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from omnitrail.settings import AppSettings

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

#: After a refusal, how long what the client still sends is read and dropped before the connection is closed
#: (closing with unread data would reset it, and the client would never see why).
LINGER_S = 2.0


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus the limits :class:`BoundedHttpProtocol` enforces."""

    def __init__(self, app: ASGIApp, *, header_timeout_s: float, max_header_bytes: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_header_bytes = max_header_bytes


class ResponseWriter:
    """What one request's response is written through: its status line and headers leave with the first bytes of
    its body, in one write.

    uvicorn writes them in two (``http.response.start``, then ``http.response.body``): two system calls and, on
    a keep-alive connection, two TCP segments the client reads separately. The headers are held only until
    the body's first write or the end of the current turn of the event loop, whichever comes first, so a
    response whose body comes later (a stream) has its headers sent as before, a moment later. ``100 Continue``
    is never held. The bytes and their order are uvicorn's.
    """

    __slots__ = ("_held", "_loop", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""
        self._started = False

    def write(self, data: bytes) -> None:
        if not self._started and data != _CONTINUE:  # the first write of a response: its status line and headers
            self._started = True
            self._held = data
            self._loop.call_soon(self.flush)
            return
        if self._held:
            data = self._held + data
            self._held = b""
        self._transport.write(data)

    def flush(self) -> None:
        if self._held and not self._transport.is_closing():
            self._transport.write(self._held)
        self._held = b""

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self.flush()
        self._transport.close()


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit on each request's headers."""

    def __init__(
        self,
        config: ServerConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout_s = config.header_timeout_s
        self.max_header_bytes = config.max_header_bytes
        self.header_bytes = 0
        self.header_deadline: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def data_received(self, data: bytes) -> None:
        if self.refused:  # once refused, whatever else arrives is dropped unread
            return
        super().data_received(data)
        if self.header_deadline is not None and not self.refused:
            # Still waiting for the end of the headers: the parser keeps what it has (llhttp hands a header
            # over only once it is whole), so what it was fed counts. One read is at most 256 KiB.
            self.header_bytes += len(data)
            if self.header_bytes > self.max_header_bytes:
                self._refuse(431, "Request headers too large.")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:
            self.cycle.transport = ResponseWriter(self.transport, self.loop)  # type: ignore[assignment]

    def _arm(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(408, "Request headers not received in time.")
        else:  # a pipelined request stalls behind one still answering: nothing can be said in between
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode()
        self.transport.write(
            STATUS_LINE[status]
            + b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + b"content-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        self.refused = True
        self._disarm()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def server_config(app: ASGIApp, settings: AppSettings) -> ServerConfig:
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    return ServerConfig(
        app,
        host=settings.http_host,
        port=settings.http_port,
        http=BoundedHttpProtocol,
        ws="none",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        header_timeout_s=settings.http_header_timeout_s,
        max_header_bytes=settings.http_max_header_bytes,
        log_config=None,
        access_log=False,
    )
