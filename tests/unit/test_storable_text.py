"""Whatever text a provider sends, what a connector accepts is what the timeline can store.

The invariant behind "a request answered 2xx is never lost": every connector's normalizer, fed
arbitrary Unicode (NUL, lone surrogates, everything else) in every text field, either refuses the
payload (``InvalidPayload``: answered 400, dead-lettered with its raw bytes) or returns interactions
that encode to JSON without U+0000 and decode back identical, exactly as the worker will read them.
The store's half (the same text through the real worker into PostgreSQL) is
tests/integration/test_messaging_payloads.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.email import mime
from connectors.email.normalize import to_interaction
from connectors.email.threads import Placement
from connectors.events.connector import EventsConnector
from connectors.livechat.chatwoot import normalize_chatwoot
from connectors.livechat.events import normalize_body
from connectors.telegram.updates import normalize_update, parse_update
from connectors.twilio.messages import normalize_inbound_message
from connectors.twilio.status import normalize_message_status
from connectors.twilio.voice import normalize_call_status
from connectors.webhook import Normalized, RawRequest
from connectors.x.direct_messages import normalize as normalize_x
from omnitrail.imports.interaction_rows import from_csv, from_json
from schemas.errors import InvalidPayload
from schemas.interaction import Interaction
from schemas.text import storable
from tests.channel_payloads import (
    PAGE_ID,
    X_ACCOUNT_ID,
    call_status,
    message_status,
    messaging_event,
    meta_connector,
    meta_signed,
    page_payload,
    wa_contact,
    wa_message,
    whatsapp_payload,
    whatsapp_value,
    x_dm,
    x_payload,
    x_user,
)
from tests.helpers import inbound_sms
from tests.livechat_payloads import chat_event, chatwoot_message, v1_interaction
from tests.telegram_updates import BOT_ID, message, update, user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
#: Any code point, with the ones PostgreSQL or UTF-8 refuse drawn often.
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\ude00", "@"])))
EXAMPLES = settings(max_examples=60, deadline=None)
META = meta_connector()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def storable_or_refused(normalize: Any) -> list[Interaction]:
    """Run a normalizer; a refusal is fine (400 + dead letter), an accepted interaction must be storable."""
    try:
        result = normalize()
    except InvalidPayload:
        return []
    found = result.interactions if isinstance(result, Normalized) else result
    found = found if isinstance(found, list) else [found]
    for interaction in found:
        encoded = interaction.model_dump_json().encode()  # what the connector produces: must not raise
        assert not any("\x00" in s for s in _strings(json.loads(encoded)))
        assert Interaction.model_validate_json(encoded) == interaction  # what the worker decodes
    return found


def _json(payload: Any) -> bytes:
    # As a provider would write it: NUL as \u0000, a lone surrogate as its \uXXXX escape.
    return json.dumps(payload).encode()


@EXAMPLES
@given(body=TEXT, name=TEXT)
def test_twilio_message(body: str, name: str) -> None:
    form = inbound_sms("SMp1", "+351912345678", body, ProfileName=name, FromCity=name)
    [sms] = storable_or_refused(lambda: normalize_inbound_message(form, default_region="PT", received_at=NOW))
    # GSM-7's "@" (0x00) is read back as "@"; everything else is the text made storable.
    assert sms.text == storable(body.replace("\x00", "@"))


@EXAMPLES
@given(text=TEXT)
def test_twilio_status_and_voice(text: str) -> None:
    storable_or_refused(
        lambda: normalize_message_status(
            message_status("SMp2", "failed", "+351912345678", ErrorCode=text), default_region="PT", received_at=NOW
        )
    )
    form = call_status("CAp1", "completed", "+351912345678", sequence=3, duration=20) | {"CallStatus": text or "x"}
    storable_or_refused(lambda: normalize_call_status(form, default_region="PT", received_at=NOW))


def _meta(payload: dict[str, Any]) -> Normalized:
    body, headers = meta_signed(payload)
    return META.normalize(RawRequest(body=body, headers=headers, public_url="http://x", received_at=NOW))


@EXAMPLES
@given(text=TEXT, name=TEXT)
def test_whatsapp_cloud_api(text: str, name: str) -> None:
    contact = wa_contact("351912345678", name, user_id="BR.1502576394655843", username=name)
    messages = [
        wa_message("wamid.P1", "351912345678", "text", text={"body": text or "x"}),
        wa_message("wamid.P2", "351912345678", "document", document={"id": "1", "caption": text, "filename": name}),
        wa_message("wamid.P3", "351912345678", "location", location={"latitude": 1.5, "longitude": 2, "name": text}),
        wa_message("wamid.P4", "351912345678", "contacts", contacts=[{"name": {"formatted_name": name}}]),
        wa_message("wamid.P5", "351912345678", "reaction", reaction={"message_id": "wamid.P1", "emoji": text}),
    ]
    storable_or_refused(lambda: _meta(whatsapp_payload(whatsapp_value(contacts=[contact], messages=messages))))


@EXAMPLES
@given(text=TEXT)
def test_messenger_and_instagram(text: str) -> None:
    event = messaging_event("m_p1", "6213", PAGE_ID, text=text, quick_reply={"payload": text})
    storable_or_refused(lambda: _meta(page_payload("page", PAGE_ID, event)))
    storable_or_refused(lambda: _meta(page_payload("instagram", PAGE_ID, event)))


@EXAMPLES
@given(text=TEXT, name=TEXT)
def test_telegram(text: str, name: str) -> None:
    person = user(first=name or "A", last=name, username=None)
    payload = update(
        1,
        message=message(
            7,
            person,
            text=None,
            caption=text,
            document={"file_id": "f", "file_unique_id": "u", "file_name": name, "mime_type": "application/pdf"},
        ),
    )
    storable_or_refused(lambda: normalize_update(parse_update(payload), bot_id=str(BOT_ID), received_at=NOW))


@EXAMPLES
@given(text=TEXT, name=TEXT)
def test_x(text: str, name: str) -> None:
    users = {"3001": x_user("3001", "ana", name), X_ACCOUNT_ID: x_user(X_ACCOUNT_ID, "acme", "Acme")}
    payload = x_payload(x_dm("e1", "3001", X_ACCOUNT_ID, text), users=users)
    storable_or_refused(lambda: normalize_x(payload, received_at=NOW))


@EXAMPLES
@given(text=TEXT, name=TEXT)
def test_livechat_chatwoot_and_events(text: str, name: str) -> None:
    event = chat_event("e1", "message", "s1", {"id": "v-1", "name": name}, text=text)
    storable_or_refused(lambda: normalize_body(_json(event), account="site", received_at=NOW, default_region="PT"))
    contact = {"id": 14, "name": name, "email": None, "phone_number": None}
    chatwoot = _json(chatwoot_message(5, content=text, contact=contact))
    storable_or_refused(lambda: normalize_chatwoot(chatwoot, received_at=NOW, default_region="PT"))
    events = _json(v1_interaction("ext-1", "ana@example.pt", text=text, subject=name))
    storable_or_refused(lambda: EventsConnector._normalize(_raw(events)))


def _raw(body: bytes) -> RawRequest:
    return RawRequest(body=body, headers={}, public_url="http://x", received_at=NOW)


@EXAMPLES
@given(text=TEXT, name=TEXT, extra=TEXT)
def test_interaction_import(text: str, name: str, extra: str) -> None:
    cells = {
        "channel": "sms",
        "occurred_at": "2026-01-05T09:00:00Z",
        "external_id": f"row-{name}",
        "phone": "912 345 678",
        "name": name,
        "subject": extra,
        "text": text,
        "crm_note": extra,
    }
    storable_or_refused(lambda: from_csv(cells, default_region="PT", received_at=NOW))
    row = {
        "channel": "sms",
        "direction": "inbound",
        "occurred_at": "2026-01-05T09:00:00Z",
        "external_id": name or "x",
        "account": "import",
        "sender": {"identifiers": [{"kind": "phone", "value": "+351912345678"}]},
        "text": text,
        "metadata": {extra: [text, {"n": name}]},
    }
    storable_or_refused(lambda: from_json(row, received_at=NOW))


@EXAMPLES
@given(subject=TEXT, body=TEXT, name=TEXT)
def test_email(subject: str, body: str, name: str) -> None:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.pt>"
    message["To"] = "support@acme.example"
    message["Message-ID"] = "<p1@example.pt>"
    raw = (
        message.as_bytes()
        + b"Subject: "
        + subject.encode("utf-8", "surrogatepass")
        + b"\r\n\r\n"
        + body.encode("utf-8", "surrogatepass")
        + name.encode("latin-1", "replace")
    )
    parsed = mime.parse(raw)
    storable_or_refused(
        lambda: to_interaction(
            parsed,
            account="support@acme.example",
            own=frozenset({"support@acme.example"}),
            occurred_at=NOW,
            received_at=NOW,
            placement=Placement("t", "new"),
        )
    )


@given(TEXT)
def test_storable_replaces_only_what_cannot_be_stored(text: str) -> None:
    made = storable(text)
    made.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in made
    clean = all(c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF for c in text)
    assert (made == text) == clean
