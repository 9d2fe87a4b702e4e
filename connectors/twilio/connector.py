"""The Twilio push connector: ``/webhooks/twilio/{messages,status,voice}`` on the shared webhook app.

Every route goes through :class:`WebhookIngest` with the same signature check; each only differs
in how the verified form becomes interactions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import ClassVar, Protocol, Self

from fastapi import APIRouter, Request, Response
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import PushConnector
from connectors.twilio.messages import normalize_inbound_message
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.signature import TwilioSignature
from connectors.twilio.status import normalize_message_status
from connectors.twilio.voice import normalize_call_status
from connectors.webhook import Normalizer, RawRequest, WebhookIngest
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError, InvalidPayload
from schemas.interaction import Interaction

_EMPTY_TWIML = str(MessagingResponse())


class FormNormalizer(Protocol):
    """How one kind of Twilio callback (its verified form) becomes interactions."""

    def __call__(
        self, form: Mapping[str, str], *, default_region: str, received_at: datetime
    ) -> Interaction | list[Interaction]: ...


#: (path, source name, summary, normalizer) of every Twilio route.
_ROUTES: tuple[tuple[str, str, str, FormNormalizer], ...] = (
    ("/messages", "messages", "Twilio incoming message (SMS, MMS, WhatsApp)", normalize_inbound_message),
    ("/status", "status", "Twilio message status callback", normalize_message_status),
    ("/voice", "voice", "Twilio call status callback", normalize_call_status),
)


class TwilioConnector(PushConnector):
    name: ClassVar[str] = "twilio"
    settings_cls: ClassVar[type[TwilioSettings]] = TwilioSettings

    def __init__(self, settings: TwilioSettings, *, default_region: str) -> None:
        if settings.auth_token is None:
            raise FatalError("OMNITRAIL_TWILIO_AUTH_TOKEN is required for the twilio connector")
        self.settings = settings
        self.default_region = default_region
        self.signature = TwilioSignature(settings.auth_token.get_secret_value())

    @classmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        assert isinstance(settings, TwilioSettings)
        return cls(settings, default_region=default_region)

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        return isinstance(settings, TwilioSettings) and settings.auth_token is not None

    def _normalizer(self, normalize: FormNormalizer) -> Callable[[RawRequest], list[Interaction]]:
        def run(raw: RawRequest) -> list[Interaction]:
            form = raw.form()
            if self.settings.account_sid and form.get("AccountSid") != self.settings.account_sid:
                raise InvalidPayload("AccountSid is not the configured account")
            result = normalize(form, default_region=self.default_region, received_at=raw.received_at)
            return result if isinstance(result, list) else [result]

        return run

    def replay_normalizer(self, source: str) -> Normalizer | None:
        """The normalizer of the route that dead-lettered ``source`` (its signature was checked on receipt)."""
        for _, name, _, normalize in _ROUTES:
            if source == f"twilio.{name}":
                return self._normalizer(normalize)
        return None

    @staticmethod
    def _twiml(_: list[Interaction]) -> Response:
        return Response(_EMPTY_TWIML, media_type="text/xml")

    def _endpoint(
        self, ingest: WebhookIngest, source: str, normalize: FormNormalizer
    ) -> Callable[[Request], Awaitable[Response]]:
        normalizer = self._normalizer(normalize)

        async def endpoint(request: Request) -> Response:
            return await ingest.handle(
                request, source=source, verify=self.signature.verify, normalize=normalizer, respond=self._twiml
            )

        return endpoint

    def router(self, ingest: WebhookIngest) -> APIRouter:
        router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
        for path, name, summary, normalize in _ROUTES:
            router.add_api_route(
                path, self._endpoint(ingest, f"twilio.{name}", normalize), methods=["POST"], summary=summary
            )
        return router
