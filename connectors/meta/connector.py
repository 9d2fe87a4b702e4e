"""The Meta push connector: ``/webhooks/meta`` for Messenger, Instagram and WhatsApp Cloud API.

GET answers Meta's verification handshake (``hub.mode=subscribe``, ``hub.verify_token`` compared
in constant time, ``hub.challenge`` echoed). POST events go through the webhook request path:
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret) is checked before the
body is parsed; then every entry, and every message or status within it, is normalized on its
own, so one bad element is dead-lettered alone and the rest are ingested. It is dead-lettered as
a body holding only it (its entry around it, nobody else's message or profile), which replay
normalizes like any other body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from connectors import json_payload as jp
from connectors import signing
from connectors.base import Connector
from connectors.meta import messaging, whatsapp
from connectors.meta.settings import MetaSettings
from connectors.webhook import Answer, Normalized, RawRequest, Rejected, Route
from schemas.errors import FatalError, InvalidPayload
from schemas.interaction import Interaction

SIGNATURE_HEADER = "X-Hub-Signature-256"
_OBJECTS = ("page", "instagram", "whatsapp_business_account")


def _alone(obj: str, entry: Any, fragment: Any) -> bytes:
    """A body Meta could have sent holding only ``fragment`` (an entry, a change, a message, a status or a
    messaging event): what the fragment is dead-lettered as, so replay reads it as it reads any body."""
    return orjson.dumps({"object": obj, "entry": [_entry_of(entry, fragment)]})


def _entry_of(entry: Any, fragment: Any) -> Any:
    if fragment == entry or not isinstance(entry, dict):
        return fragment
    for key in ("messaging", "standby"):
        if fragment in (entry.get(key) or []):
            return {**entry, key: [fragment]}
    for change in entry.get("changes") or []:
        if change == fragment:
            return {**entry, "changes": [change]}
        value = change.get("value") if isinstance(change, dict) else None
        for key in ("messages", "statuses"):
            if isinstance(value, dict) and fragment in (value.get(key) or []):
                # Only this message's sender among the contacts: the others are other people's profiles.
                sender = fragment.get("from") if isinstance(fragment, dict) else None
                contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict) and c.get("wa_id") == sender]
                alone = {k: v for k, v in value.items() if k not in ("messages", "statuses", "contacts")}
                alone |= {key: [fragment]} | ({"contacts": contacts} if contacts else {})
                return {**entry, "changes": [{**change, "value": alone}]}
    return fragment  # not found where the normalizers look: its own bytes, as it came


#: "Webhooks payloads can be up to 3MB" (Meta, WhatsApp Cloud API webhooks overview, payload size): above the
#: default OMNITRAIL_MAX_BODY_BYTES (1 MiB), so this route takes that much whatever the setting says.
BODY_BYTES = 3 * 1024 * 1024


class MetaConnector(Connector[MetaSettings]):
    """Meta gives numbers in international form: the default region is not used."""

    name: ClassVar[str] = "meta"
    enabled_by: ClassVar[tuple[str, ...]] = ("app_secret",)

    def __init__(self, settings: MetaSettings, *, default_region: str) -> None:
        super().__init__(settings, default_region=default_region)
        if settings.app_secret is None or settings.verify_token is None:
            raise FatalError("OMNITRAIL_META_APP_SECRET and OMNITRAIL_META_VERIFY_TOKEN are required for meta")
        self._secret = settings.app_secret.get_secret_value()
        self._verify_token = settings.verify_token.get_secret_value()

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
                    part = whatsapp.normalize_entry(entry, received_at=received_at)
                else:
                    part = messaging.normalize_entry(str(obj), entry, received_at=received_at)
            except Exception as exc:  # one entry's failure, whatever it is, leaves the others (see jp.each)
                part = jp.rejected(entry, jp.reason(exc))
            rejected = [Rejected(r.reason, _alone(str(obj), entry, orjson.loads(r.raw))) for r in part.rejected]
            parts.append(Normalized(part.interactions, rejected))
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

    def routes(self) -> list[Route]:
        summary = "Meta events: Messenger, Instagram, WhatsApp Cloud API"
        return [
            Route(
                "/webhooks/meta",
                "meta",
                summary,
                self.verify,
                self.normalize,
                self._ok,
                documented_body_bytes=BODY_BYTES,
            )
        ]

    def answers(self) -> list[Answer]:
        return [Answer("GET", "/webhooks/meta", "Meta webhook verification handshake", self.handshake)]
