"""The one signed-webhook request path every push connector uses.

Order matters and is the same for every channel:

1. read the body, refusing more than ``max_body_bytes`` before reading it whole (413), and
   giving up on a body that takes longer than ``body_timeout_s`` to arrive (408: slow-loris);
2. verify the provider's signature on the raw bytes; nothing is parsed before (403);
3. normalize; a verified payload that cannot be normalized is dead-lettered with its
   raw bytes and the reason, and answered 400. A batch (Meta entries, a list of events) may
   be partly bad: the normalizer returns :class:`Normalized` with the good interactions and
   each bad fragment; the fragments are dead-lettered one by one and the good ones go on,
   so one bad entry never loses the others (400 only when nothing in it was good);
4. produce and wait for the broker's acknowledgement; only then answer 2xx. If the
   broker cannot take it the answer is 503, so the provider retries. An interaction over the
   broker's record size limit can never be produced: the whole body is dead-lettered instead
   (its bytes in a file when too large for the topic, :mod:`connectors.deadletter_bodies`)
   and answered 400 like an invalid payload.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.deadlines import Deadlines
from connectors.emitter import Emitter, send_dead_letter
from connectors.form import parse_form
from connectors.metrics import INGESTED, REJECTED, WEBHOOK_SECONDS
from schemas.deadletter import DeadLetter
from schemas.errors import InvalidPayload, InvalidSignature, RecordTooLarge, RetriableError, UnknownSigningKey
from schemas.interaction import Interaction

log = structlog.get_logger(__name__)


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


@dataclass(frozen=True)
class RawRequest:
    """What a connector sees of a webhook request: the exact bytes and the URL the provider signed."""

    body: bytes
    headers: Mapping[str, str]
    public_url: str
    received_at: datetime
    content_type: str | None = None
    _form: dict[str, str] | None = field(default=None, repr=False)

    def form(self) -> dict[str, str]:
        """The urlencoded body (the last value of a repeated name). Undecodable bytes are replaced, so the
        signature check decides, not a crash.

        Parsed once per request (the signature check and the normalizer both read it; parsing was ~6%
        of a Twilio request's CPU); each caller gets its own dict, so neither sees the other's changes.
        """
        if self._form is None:
            object.__setattr__(self, "_form", dict(parse_form(self.body)))  # a cache on a frozen value
        return dict(self._form or ())


@dataclass(frozen=True)
class Rejected:
    """One fragment of a batch that cannot be normalized: why, and its exact bytes."""

    reason: str
    raw: bytes


@dataclass(frozen=True)
class Normalized:
    interactions: list[Interaction]
    rejected: list[Rejected] = field(default_factory=list)


Verifier = Callable[[RawRequest], None]
Normalizer = Callable[[RawRequest], "list[Interaction] | Normalized"]
Responder = Callable[[list[Interaction]], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """One signed POST a provider calls, declared once by its connector: served, fast-pathed, replayed.

    ``path`` is fixed (no path parameters: the fast path dispatches it by exact match); ``source``
    names the route in dead letters and metrics and is unique across connectors, so a dead letter
    says which normalizer reads its bytes again.
    """

    path: str
    source: str
    summary: str
    verify: Verifier
    normalize: Normalizer
    respond: Responder
    #: The largest body the provider documents sending: taken whatever ``OMNITRAIL_MAX_BODY_BYTES`` says (a
    #: 413 is retried, then dropped by the provider: messages lost).
    documented_body_bytes: int = 0

    def __post_init__(self) -> None:
        if "{" in self.path:
            raise ValueError(f"a webhook route has a fixed path, not {self.path}")


@dataclass(frozen=True)
class Answer:
    """A request a provider makes that carries no interaction (a GET handshake, a fixed refusal).

    Nothing is ingested or dead-lettered, so it skips the request path: ``answer`` decides alone
    (Meta's verify token, X's CRC token shape).
    """

    method: str
    path: str
    summary: str
    answer: Callable[[Request], Response]


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    """The whole body, at most ``limit`` bytes, within ``timeout_s`` seconds for all of it."""
    within = functools.partial(asyncio.timeout, timeout_s)
    return await receive_body(request.receive, request.headers.get("content-length"), limit, within)


async def receive_body(
    receive: Receive, declared: str | None, limit: int, within: Callable[[], AbstractAsyncContextManager[object]]
) -> bytes:
    """The whole body from the ASGI ``receive``, at most ``limit`` bytes (``declared``: the Content-Length
    header, refused before a byte is read when it is over), all of it within the deadline ``within()`` sets
    (``asyncio.timeout``, or :class:`connectors.deadlines.Deadlines` on the webhook path).

    One deadline for the whole body, not per chunk: a client dribbling a byte a second would
    otherwise hold a connection (and a worker slot) for as long as it likes. A provider's body
    usually arrives with its headers, in one message, which is returned as it is.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with within():
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect: nobody is left to answer
                    raise ClientDisconnect
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                if not message.get("more_body", False):
                    if not chunks:
                        return chunk
                    chunks.append(chunk)
                    return b"".join(chunks)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTooSlow from None


def unnormalizable(exc: Exception) -> str:
    """The reason for signed input a normalizer raised on (on receipt and on replay): the exception's type,
    never its message, which may quote personal data."""
    return f"cannot be normalized ({type(exc).__name__})"


class WebhookIngest:
    """Shared by every push connector: limits, signature first, dead-letter, broker ack before 2xx."""

    def __init__(
        self, emitter: Emitter, *, public_url: str, max_body_bytes: int, body_timeout_s: float | None = None
    ) -> None:
        self.emitter = emitter
        self.public_url = public_url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self._body_deadlines = Deadlines(body_timeout_s)

    def endpoint(self, route: Route) -> Endpoint:
        """The route as a FastAPI endpoint (the app's own routing, tests)."""

        async def endpoint(request: Request) -> Response:
            return await self.handle(request, route)

        return endpoint

    def asgi(self, route: Route) -> ASGIApp:
        """The route as a bare ASGI app, for the fast path: the same answers as :meth:`endpoint`, without a
        starlette Request (its URL object alone was ~5 µs) or a second pass over the response."""
        path = route.path

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            started = time.perf_counter()
            headers = Headers(raw=scope["headers"])
            body = await self._body(receive, headers, route)
            if isinstance(body, Response):
                response = body
            else:
                response = await self._ingest(route, body, headers, _target(path, scope["query_string"]), started)
            await send_response(response, scope, receive, send)

        return app

    async def handle(self, request: Request, route: Route) -> Response:
        started = time.perf_counter()
        body = await self._body(request.receive, request.headers, route)
        if isinstance(body, Response):
            return body
        target = _target(request.url.path, request.scope["query_string"])
        return await self._ingest(route, body, request.headers, target, started)

    async def _body(self, receive: Receive, headers: Headers, route: Route) -> bytes | Response:
        """The request's body, or the refusal to answer instead (413, 408)."""
        limit = max(self.max_body_bytes, route.documented_body_bytes)
        try:
            return await receive_body(receive, headers.get("content-length"), limit, self._body_deadlines)
        except BodyTooLarge:
            return self._refuse(route.source, "too_large", 413, "body exceeds the configured limit")
        except BodyTooSlow:
            return self._refuse(route.source, "too_slow", 408, "body not received within the configured time")

    async def _ingest(self, route: Route, body: bytes, headers: Headers, target: str, started: float) -> Response:
        """Verify, normalize, make durable; ``target``: the path and query the provider called."""
        source = route.source
        raw = RawRequest(
            body=body,
            headers=headers,
            public_url=self.public_url + target,
            received_at=datetime.now(UTC),
            content_type=headers.get("content-type"),
        )
        try:
            route.verify(raw)
        except UnknownSigningKey as exc:
            # A warning: anyone can name a key (no signature is checked before this); the alert says so.
            log.warning("webhook.signing_key_unknown", source=source, reason=exc.reason)
            return self._refuse(source, "signing_key", 503, exc.reason, retry_after=60)
        except InvalidSignature as exc:
            return self._refuse(source, "signature", 403, exc.reason)
        except Exception as exc:  # a verifier tripped by hostile headers has verified nothing: refused, never a 500
            log.warning("webhook.signature_check_failed", source=source, error=type(exc).__name__)
            return self._refuse(source, "signature", 403, "the signature could not be checked")
        try:
            result = route.normalize(raw)
        except InvalidPayload as exc:
            result = Normalized([], [Rejected(exc.reason, raw.body)])
        except Exception as exc:
            # Signed input a normalizer could not cope with (too deep, out of range, a bug): a 5xx would be
            # retried by the provider forever, so it is dead-lettered like any invalid payload, ready to
            # replay once the normalizer is fixed. The type only: a message may quote personal data.
            log.warning("webhook.normalizer_failed", source=source, error=type(exc).__name__)
            result = Normalized([], [Rejected(unnormalizable(exc), raw.body)])
        if isinstance(result, list):
            result = Normalized(result)

        def dead_letter(body: bytes, reason: str, error_type: str = InvalidPayload.__name__) -> DeadLetter:
            return DeadLetter.of(
                body,
                reason,
                source=source,
                content_type=raw.content_type,
                error_type=error_type,
                received_at=raw.received_at,
            )

        try:
            # Dead letters first: a bad fragment is durable before the good ones are acknowledged.
            for rejected in result.rejected:
                await send_dead_letter(self.emitter, dead_letter(rejected.raw, rejected.reason))
            if result.interactions:
                try:
                    await self.emitter.emit_many(result.interactions)
                except RecordTooLarge as exc:  # nothing of it was produced: the body is kept as a dead letter
                    await send_dead_letter(self.emitter, dead_letter(raw.body, exc.reason, RecordTooLarge.__name__))
                    result = Normalized([], [*result.rejected, Rejected(exc.reason, raw.body)])
        except RetriableError as exc:
            # Not durable anywhere yet: make the provider retry rather than lose the payload.
            log.warning("webhook.broker_unavailable", source=source, error=str(exc))
            return self._refuse(source, "broker", 503, "temporarily unable to store the event", retry_after=5)
        if result.rejected and not result.interactions:
            reason = result.rejected[0].reason
            return JSONResponse({"error": "invalid_payload", "reason": reason}, status_code=400)
        for interaction in result.interactions:
            _ingested(interaction.channel.value).inc()
        _seconds(source).observe(time.perf_counter() - started)
        return route.respond(result.interactions)

    @staticmethod
    def _refuse(source: str, kind: str, status: int, reason: str, retry_after: int | None = None) -> Response:
        REJECTED.labels(source, kind).inc()
        if status != 503:
            log.info("webhook.rejected", source=source, status=status, reason=reason)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return JSONResponse({"error": kind, "reason": reason}, status_code=status, headers=headers)


async def send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """What ``await response(scope, receive, send)`` sends for a plain response (status, headers, body), sent
    directly; any other kind of response (streamed, with a background task) answers as it would."""
    if type(response).__call__ is not Response.__call__ or response.background is not None:
        await response(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


@functools.cache  # one child per channel: labels() hashes and locks on every call
def _ingested(channel: str) -> Counter:
    return INGESTED.labels(channel)


@functools.cache  # one child per route
def _seconds(source: str) -> Histogram:
    return WEBHOOK_SECONDS.labels(source)


def _target(path: str, query_string: bytes) -> str:
    """The path and query a provider signed (with the public URL in front), as ``request.url`` gives them.

    A query that is no UTF-8 (no provider sends one) keeps its bytes as surrogates: its signature check then
    fails, a 403, where decoding it here was a 500 before anything was checked."""
    query = query_string.decode("utf-8", "surrogateescape")
    return f"{path}?{query}" if query else path


def serve(
    routes: Sequence[Route], answers: Sequence[Answer], ingest: WebhookIngest
) -> tuple[APIRouter, dict[str, ASGIApp]]:
    """The declared routes on the request path: a router for the app, and a bare ASGI app by path for the fast
    path (:class:`omnitrail.webhook_fast_path.WebhookFastPath`)."""
    router = APIRouter(tags=["webhooks"])
    for route in routes:
        router.add_api_route(route.path, ingest.endpoint(route), methods=["POST"], summary=route.summary)
    endpoints = {route.path: ingest.asgi(route) for route in routes}
    for answer in answers:
        router.add_api_route(answer.path, _answering(answer), methods=[answer.method], summary=answer.summary)
    return router, endpoints


def _answering(answer: Answer) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return answer.answer(request)

    return endpoint
