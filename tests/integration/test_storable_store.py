"""The store's half of the invariant (the normalizers' half is tests/unit/test_storable_text.py): whatever
text a connector accepted, the worker's batch stores in real PostgreSQL, never dead-letters.

Generated text (NUL, lone surrogates, any other code point) goes through the connectors' normalizers,
onto the wire as the emitter encodes it, and through the pipeline's batch (decode, identity, COPY into
the timeline, reactions applied to their message) into a private database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from connectors.emitter import Record
from connectors.telegram.updates import normalize_update, parse_update
from connectors.twilio.messages import normalize_inbound_message
from connectors.webhook import RawRequest
from pipeline.batch import BatchProcessor
from schemas import topics
from schemas.interaction import Interaction
from schemas.text import storable
from sinks.kafka.records import RawRecord
from tests.channel_payloads import (
    meta_connector,
    meta_signed,
    wa_contact,
    wa_message,
    wa_reaction,
    whatsapp_payload,
    whatsapp_value,
)
from tests.helpers import inbound_sms
from tests.telegram_updates import BOT_ID, message, update, user

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\ude00"])))
META = meta_connector()


def without_surrogates(text: str) -> str:
    """Text without lone surrogates (a lone surrogate escape in a JSON body is read as U+FFFD on receipt)."""
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


def _interactions(text: str, name: str) -> list[Interaction]:
    n = uuid.uuid4().int % 10**8
    body_text, meta_name = f"<{without_surrogates(text)}>", without_surrogates(name)
    phone = f"+3519{n:08d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    sms = normalize_inbound_message(
        inbound_sms(f"SM{uuid.uuid4().hex}", phone, text, ProfileName=name), default_region="PT", received_at=NOW
    )
    messages = [
        wa_message(wamid, phone[1:], "text", text={"body": body_text}),
        wa_message(f"wamid.{n}p", phone[1:], "location", location={"latitude": 1, "longitude": 2, "name": body_text}),
        wa_message(f"wamid.{n}c", phone[1:], "contacts", contacts=[{"name": {"formatted_name": meta_name}}]),
        wa_reaction(f"wamid.{n}r", phone[1:], wamid, body_text),
    ]
    value = whatsapp_value(contacts=[wa_contact(phone[1:], meta_name)], messages=messages)
    body, headers = meta_signed(whatsapp_payload(value))
    whatsapp = META.normalize(RawRequest(body=body, headers=headers, public_url="http://x", received_at=NOW))
    assert whatsapp.rejected == []
    person = user(user_id=10**9 + n, first=name or "A", last=None, username=None)
    telegram = normalize_update(
        parse_update(update(n, message=message(n, person, text=text or "-"))), bot_id=str(BOT_ID), received_at=NOW
    )
    return [sms, *whatsapp.interactions, *telegram]


async def _store(database_url: str, interactions: list[Interaction]) -> dict[uuid.UUID, dict[str, Any]]:
    published: list[Any] = []

    async def publish(records: Any) -> None:
        published.extend(records)

    async with AsyncConnectionPool(
        database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    ) as pool:
        records = [RawRecord(Record.of(i).value, topics.INTERACTIONS, 0, n) for n, i in enumerate(interactions)]
        result = await BatchProcessor(pool, publish).process(records)
        assert result.dead_lettered == 0
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT interaction_id, document FROM interactions WHERE interaction_id = ANY(%s)",
                ([i.interaction_id for i in interactions],),
            )
            return {row[0]: row[1] for row in await cur.fetchall()}


@settings(max_examples=25, deadline=None)
@given(text=TEXT, name=TEXT)
def test_any_text_a_connector_accepts_is_stored(private_database_url: str, text: str, name: str) -> None:
    interactions = _interactions(text, name)
    stored = asyncio.run(_store(private_database_url, interactions))
    sms, wa_text, place, card, reaction, telegram = interactions
    assert set(stored) == {i.interaction_id for i in (sms, wa_text, place, card, telegram)}  # the reaction: no row
    assert stored[sms.interaction_id]["text"] == storable(text.replace("\x00", "@"))
    assert stored[sms.interaction_id]["sender"]["display_name"] == (storable(name) or None)
    body_text = f"<{without_surrogates(text)}>"
    assert stored[wa_text.interaction_id]["text"] == storable(body_text)
    assert stored[place.interaction_id]["location"]["name"] == storable(body_text)
    assert stored[card.interaction_id]["contact_cards"][0]["name"] == (
        storable(without_surrogates(name)).strip() or None
    )
    on_message = stored[wa_text.interaction_id]["metadata"].get("reactions", {}).get("customer")
    assert on_message == {"emoji": storable(body_text), "at": reaction.occurred_at.isoformat()}
    assert stored[telegram.interaction_id]["text"] == (storable(text) or "-")
