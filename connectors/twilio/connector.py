"""The Twilio push connector: mounts ``/webhooks/twilio/messages`` on the shared webhook app."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter, Request, Response
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import PushConnector
from connectors.twilio.messages import normalize_inbound_message
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.signature import TwilioSignature
from connectors.webhook import RawRequest, WebhookIngest
from schemas.errors import FatalError, InvalidPayload
from schemas.interaction import Interaction

_EMPTY_TWIML = str(MessagingResponse())


class TwilioConnector(PushConnector):
    name: ClassVar[str] = "twilio"
    settings_cls: ClassVar[type[TwilioSettings]] = TwilioSettings

    def __init__(self, settings: TwilioSettings, *, default_region: str) -> None:
        if settings.auth_token is None:
            raise FatalError("OMNITRAIL_TWILIO_AUTH_TOKEN is required for the twilio connector")
        self.settings = settings
        self.default_region = default_region
        self.signature = TwilioSignature(settings.auth_token.get_secret_value())

    def _normalize_message(self, raw: RawRequest) -> list[Interaction]:
        form = raw.form()
        if self.settings.account_sid and form.get("AccountSid") != self.settings.account_sid:
            raise InvalidPayload("AccountSid is not the configured account")
        return [normalize_inbound_message(form, default_region=self.default_region, received_at=raw.received_at)]

    @staticmethod
    def _twiml(_: list[Interaction]) -> Response:
        return Response(_EMPTY_TWIML, media_type="text/xml")

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

        @router.post("/messages", summary="Twilio incoming message (SMS, MMS, WhatsApp)")
        async def messages(request: Request) -> Response:
            return await ingest.handle(
                request,
                source="twilio.messages",
                verify=self.signature.verify,
                normalize=self._normalize_message,
                respond=self._twiml,
            )

        return router
