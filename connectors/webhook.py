"""The one signed-webhook request path every push connector uses.

Order matters and is the same for every channel:

1. read the body, refusing more than ``max_body_bytes`` before reading it whole (413);
2. verify the provider's signature on the raw bytes; nothing is parsed before (403);
3. normalize; a verified payload that cannot be normalized is dead-lettered with its
   raw bytes and the reason, and answered 400;
4. produce and wait for the broker's acknowledgement; only then answer 2xx. If the
   broker cannot take it the answer is 503, so the provider retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from connectors.emitter import Emitter
from connectors.metrics import DEADLETTERED, INGESTED, REJECTED, WEBHOOK_SECONDS
from schemas.deadletter import DeadLetter
from schemas.errors import InvalidPayload, InvalidSignature, RetriableError
from schemas.interaction import Interaction

log = structlog.get_logger(__name__)


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class RawRequest:
    """What a connector sees of a webhook request: the exact bytes and the URL the provider signed."""

    body: bytes
    headers: Mapping[str, str]
    public_url: str
    received_at: datetime
    content_type: str | None = None
    _form: list[tuple[str, str]] | None = field(default=None, repr=False)

    def form(self) -> dict[str, str]:
        """The urlencoded body. Undecodable bytes are replaced, so the signature check decides, not a crash."""
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))


Verifier = Callable[[RawRequest], None]
Normalizer = Callable[[RawRequest], list[Interaction]]
Responder = Callable[[list[Interaction]], Response]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookIngest:
    """Shared by every push connector: limits, signature first, dead-letter, broker ack before 2xx."""

    def __init__(self, emitter: Emitter, *, public_url: str, max_body_bytes: int) -> None:
        self.emitter = emitter
        self.public_url = public_url.rstrip("/")
        self.max_body_bytes = max_body_bytes

    async def handle(
        self,
        request: Request,
        *,
        source: str,
        verify: Verifier,
        normalize: Normalizer,
        respond: Responder,
    ) -> Response:
        started = time.perf_counter()
        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLarge:
            return self._refuse(source, "too_large", 413, "body exceeds the configured limit")
        query = request.url.query
        raw = RawRequest(
            body=body,
            headers=request.headers,
            public_url=f"{self.public_url}{request.url.path}" + (f"?{query}" if query else ""),
            received_at=datetime.now(UTC),
            content_type=request.headers.get("content-type"),
        )
        try:
            verify(raw)
        except InvalidSignature as exc:
            return self._refuse(source, "signature", 403, exc.reason)
        try:
            interactions = normalize(raw)
        except InvalidPayload as exc:
            return await self._dead_letter(source, raw, exc)
        try:
            await self.emitter.emit_many(interactions)
        except RetriableError as exc:
            log.warning("webhook.broker_unavailable", source=source, error=str(exc))
            return self._refuse(source, "broker", 503, "temporarily unable to store the event", retry_after=5)
        for interaction in interactions:
            INGESTED.labels(interaction.channel.value).inc()
        WEBHOOK_SECONDS.labels(source).observe(time.perf_counter() - started)
        return respond(interactions)

    async def _dead_letter(self, source: str, raw: RawRequest, exc: InvalidPayload) -> Response:
        record = DeadLetter(
            source=source,
            reason=exc.reason,
            error_type=type(exc).__name__,
            raw_base64=DeadLetter.encode_raw(raw.body),
            content_type=raw.content_type,
            received_at=raw.received_at,
        )
        try:
            await self.emitter.dead_letter(record)
        except RetriableError:
            # Not durable anywhere yet: make the provider retry rather than lose the payload.
            return self._refuse(source, "broker", 503, "temporarily unable to store the event", retry_after=5)
        DEADLETTERED.labels(source).inc()
        log.info("webhook.dead_lettered", source=source, reason=exc.reason)
        return JSONResponse({"error": "invalid_payload", "reason": exc.reason}, status_code=400)

    @staticmethod
    def _refuse(source: str, kind: str, status: int, reason: str, retry_after: int | None = None) -> Response:
        REJECTED.labels(source, kind).inc()
        if status != 503:
            log.info("webhook.rejected", source=source, status=status, reason=reason)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return JSONResponse({"error": kind, "reason": reason}, status_code=status, headers=headers)
