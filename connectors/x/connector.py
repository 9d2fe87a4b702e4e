"""The X push connector: ``/webhooks/x`` for the Account Activity API (direct messages).

GET answers the CRC challenge: ``{"response_token": "sha256=" + base64(HMAC-SHA256(crc_token,
consumer secret))}``, which X sends when the webhook is registered and then periodically. POST
deliveries are checked against ``x-twitter-webhooks-signature`` (the same HMAC over the raw body)
before parsing, then go through :class:`WebhookIngest` like every other webhook.

The CRC answer is the very HMAC a POST body needs, so answering it for any text would be a
signing oracle: ask for the CRC of a forged event body, then post that body with the answer as
its signature. Only tokens shaped like X's (:data:`CRC_TOKEN`: 8 to 256 base64/token characters,
never a quote, brace or space, so never a JSON document) are answered; anything else gets 400
and no HMAC.
"""

from __future__ import annotations

import re
from typing import ClassVar, Self

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from connectors import json_payload as jp
from connectors import signing
from connectors.base import PushConnector
from connectors.webhook import Normalized, RawRequest, WebhookIngest
from connectors.x import direct_messages
from connectors.x.settings import XSettings
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError
from schemas.interaction import Interaction

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
CRC_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,256}")
"""What a CRC token may be: X's are random base64/base64url strings. No character of a JSON
object (``{``, ``"``, ``:`` or white space) is allowed, so no event body can be signed through it."""


class XConnector(PushConnector):
    name: ClassVar[str] = "x"
    settings_cls: ClassVar[type[XSettings]] = XSettings

    def __init__(self, settings: XSettings) -> None:
        if settings.consumer_secret is None:
            raise FatalError("OMNITRAIL_X_CONSUMER_SECRET is required for the x connector")
        self._secret = settings.consumer_secret.get_secret_value()

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        assert isinstance(settings, XSettings)
        return cls(settings)

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, XSettings) and settings.consumer_secret is not None

    def verify(self, raw: RawRequest) -> None:
        expected = signing.sha256_base64(self._secret, raw.body)
        signing.require(SIGNATURE_HEADER, raw.headers.get(SIGNATURE_HEADER), expected)

    @staticmethod
    def normalize(raw: RawRequest) -> Normalized:
        payload = jp.parse_object(raw.body)
        return jp.whole_if_nothing_good(direct_messages.normalize(payload, received_at=raw.received_at))

    @staticmethod
    def _ok(_: list[Interaction]) -> Response:
        return Response(status_code=200)

    def crc(self, request: Request) -> Response:
        token = request.query_params.get("crc_token")
        if not token:
            return JSONResponse({"error": "invalid_payload", "reason": "missing crc_token"}, status_code=400)
        if CRC_TOKEN.fullmatch(token) is None:
            return JSONResponse(
                {"error": "invalid_payload", "reason": "crc_token is not shaped like X's (8-256 token characters)"},
                status_code=400,
            )
        return JSONResponse({"response_token": signing.sha256_base64(self._secret, token)})

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks", tags=["webhooks"])

        @router.get("/x", summary="X Account Activity API CRC challenge")
        async def challenge(request: Request) -> Response:
            return self.crc(request)

        @router.post("/x", summary="X Account Activity API events (direct messages)")
        async def events(request: Request) -> Response:
            return await ingest.handle(
                request, source="x", verify=self.verify, normalize=self.normalize, respond=self._ok
            )

        return router
