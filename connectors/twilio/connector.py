"""The Twilio push connector: ``/webhooks/twilio/{messages,status,voice}`` on the shared webhook app.

Every route has the same signature check and TwiML answer; each only differs in how the verified
form becomes interactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import ClassVar, Protocol

from fastapi import Response
from pydantic import ValidationError
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import Connector
from connectors.twilio.messages import normalize_inbound_message
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.signature import TwilioSignature
from connectors.twilio.status import normalize_message_status
from connectors.twilio.voice import normalize_call_status
from connectors.webhook import RawRequest, Route
from schemas.errors import FatalError, InvalidPayload
from schemas.interaction import Interaction
from schemas.interaction_input import validation_reason

_EMPTY_TWIML = str(MessagingResponse())


class FormNormalizer(Protocol):
    """How one kind of Twilio callback (its verified form) becomes interactions."""

    def __call__(
        self, form: Mapping[str, str], *, default_region: str, received_at: datetime
    ) -> Interaction | list[Interaction]: ...


#: (name in the path and the source, summary, normalizer) of every Twilio route.
_ROUTES: tuple[tuple[str, str, FormNormalizer], ...] = (
    ("messages", "Twilio incoming message (SMS, MMS, WhatsApp)", normalize_inbound_message),
    ("status", "Twilio message status callback", normalize_message_status),
    ("voice", "Twilio call status callback", normalize_call_status),
)


class TwilioConnector(Connector[TwilioSettings]):
    name: ClassVar[str] = "twilio"
    enabled_by: ClassVar[tuple[str, ...]] = ("auth_token",)

    def __init__(self, settings: TwilioSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        if settings.auth_token is None:
            raise FatalError("OMNITRAIL_TWILIO_AUTH_TOKEN is required for the twilio connector")
        self.signature = TwilioSignature(
            settings.auth_token.get_secret_value(),
            {key_id: secret.get_secret_value() for key_id, secret in settings.shared_keys.items()},
        )

    def _normalizer(self, normalize: FormNormalizer) -> Callable[[RawRequest], list[Interaction]]:
        def run(raw: RawRequest) -> list[Interaction]:
            form = raw.form()
            if self.settings.account_sid and form.get("AccountSid") != self.settings.account_sid:
                raise InvalidPayload("AccountSid is not the configured account")
            try:
                result = normalize(form, default_region=self.default_region, received_at=raw.received_at)
            except ValidationError as exc:  # a value the schema refuses (a date with no UTC equivalent)
                raise InvalidPayload(validation_reason(exc)) from None
            return result if isinstance(result, list) else [result]

        return run

    @staticmethod
    def _twiml(_: list[Interaction]) -> Response:
        return Response(_EMPTY_TWIML, media_type="text/xml")

    def routes(self) -> list[Route]:
        return [
            Route(
                f"/webhooks/twilio/{name}",
                f"twilio.{name}",
                summary,
                self.signature.verify,
                self._normalizer(n),
                self._twiml,
            )
            for name, summary, n in _ROUTES
        ]
