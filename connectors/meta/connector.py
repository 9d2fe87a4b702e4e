"""The Meta push connector: ``/webhooks/meta`` for Messenger, Instagram and WhatsApp Cloud API.

GET answers Meta's verification handshake (``hub.mode=subscribe``, ``hub.verify_token`` compared
in constant time, ``hub.challenge`` echoed). POST events go through :class:`WebhookIngest`:
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret) is checked before the
body is parsed; then every entry, and every message or status within it, is normalized on its
own, so one bad element is dead-lettered alone and the rest are ingested.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from connectors import json_payload as jp
from connectors import signing
from connectors.base import PushConnector
from connectors.meta import messaging, whatsapp
from connectors.meta.settings import MetaSettings
from connectors.webhook import Normalized, RawRequest, WebhookIngest
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError, InvalidPayload
from schemas.interaction import Interaction

SIGNATURE_HEADER = "X-Hub-Signature-256"
_OBJECTS = ("page", "instagram", "whatsapp_business_account")


class MetaConnector(PushConnector):
    name: ClassVar[str] = "meta"
    settings_cls: ClassVar[type[MetaSettings]] = MetaSettings

    def __init__(self, settings: MetaSettings) -> None:
        if settings.app_secret is None or settings.verify_token is None:
            raise FatalError("OMNITRAIL_META_APP_SECRET and OMNITRAIL_META_VERIFY_TOKEN are required for meta")
        self._secret = settings.app_secret.get_secret_value()
        self._verify_token = settings.verify_token.get_secret_value()

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        assert isinstance(settings, MetaSettings)
        return cls(settings)  # Meta gives numbers in international form: no default region needed

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, MetaSettings) and settings.app_secret is not None

    def verify(self, raw: RawRequest) -> None:
        signing.require(SIGNATURE_HEADER, raw.headers.get(SIGNATURE_HEADER), signing.sha256_hex(self._secret, raw.body))

    @staticmethod
    def normalize(raw: RawRequest) -> Normalized:
        payload = jp.parse_object(raw.body)
        obj = payload.get("object")
        if obj not in _OBJECTS:
            raise InvalidPayload("object is not page, instagram or whatsapp_business_account")
        entries = jp.items(payload, "entry")
        received_at: datetime = raw.received_at
        parts: list[Normalized] = []
        for entry in entries:
            try:
                if obj == "whatsapp_business_account":
                    parts.append(whatsapp.normalize_entry(entry, received_at=received_at))
                else:
                    parts.append(messaging.normalize_entry(str(obj), entry, received_at=received_at))
            except InvalidPayload as exc:
                parts.append(jp.rejected(entry, exc.reason))
        return jp.whole_if_nothing_good(jp.merge(parts))

    @staticmethod
    def _ok(_: list[Interaction]) -> Response:
        return PlainTextResponse("EVENT_RECEIVED")

    def handshake(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token") or ""
        if params.get("hub.mode") != "subscribe" or not signing.equal(token, self._verify_token):
            return JSONResponse({"error": "signature", "reason": "verification token does not match"}, status_code=403)
        return PlainTextResponse(params.get("hub.challenge", ""))

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks", tags=["webhooks"])

        @router.get("/meta", summary="Meta webhook verification handshake")
        async def verify(request: Request) -> Response:
            return self.handshake(request)

        @router.post("/meta", summary="Meta events: Messenger, Instagram, WhatsApp Cloud API")
        async def events(request: Request) -> Response:
            return await ingest.handle(
                request, source="meta", verify=self.verify, normalize=self.normalize, respond=self._ok
            )

        return router
