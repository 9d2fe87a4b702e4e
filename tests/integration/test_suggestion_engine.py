"""Suggestions against the real broker and PostgreSQL, with a fake clock: timeline events are
produced to the real timeline topic and read back from it, suggestions open and close, and
show through the API and on the suggestions topic."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from connectors.testing import FakeClock
from console.audit import Audit
from console.auth import TokenAuth
from console.routes import suggestions
from omnitrail.local_stack import EmbeddedBroker
from pipeline.suggestion_engine import SuggestionEngine
from pipeline.suggestion_settings import SuggestionSettings
from schemas import topics
from schemas.ids import event_id_for
from schemas.interaction import Channel, Direction, Interaction, Provider
from schemas.suggestion import Suggestion
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import consent, erasure, merges
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.records import RawRecord
from sinks.kafka.settings import KafkaSettings
from tests.integration.rows import one
from tests.integration.stack import AGENT, read_topic
from tests.interactions import interaction

pytestmark = pytest.mark.integration
OUR_NUMBER = "+351210000000"


class Harness:
    def __init__(self, engine: SuggestionEngine, clock: FakeClock, producer: Any, bootstrap: str) -> None:
        self.engine, self.clock, self.producer, self.bootstrap = engine, clock, producer, bootstrap

    def interaction(
        self, channel: Channel, direction: Direction, thread: str | None = None, text: str | None = None
    ) -> Interaction:
        return interaction(
            channel,
            "+351911111111",
            direction=direction,
            provider=Provider.twilio,
            account=OUR_NUMBER,
            at=self.clock(),
            thread_key=thread,
            text=text,
        )

    async def publish(self, *events: TimelineEvent, raw: bytes | None = None) -> list[Suggestion]:
        """Produce to the real timeline topic, read those records back from it, hand them to the engine."""
        sent = [(str(e.contact_id).encode(), e.model_dump_json().encode()) for e in events]
        sent += [(b"bad", raw)] if raw else []
        for key, value in sent:
            await self.producer.send_and_wait(topics.TIMELINE, value, key=key)
        mine = {v for _, v in sent}
        received = [v for _, v in await read_topic(self.bootstrap, topics.TIMELINE) if v in mine]
        assert len(received) == len(sent)
        return await self.engine.handle_records([RawRecord(v, topics.TIMELINE, 0, n) for n, v in enumerate(received)])

    async def added(self, contact_id: uuid.UUID, channel: Channel, direction: Direction, **kw: Any) -> Interaction:
        interaction = self.interaction(channel, direction, **kw)
        await self.publish(event(TimelineEventType.interaction_added, contact_id, interaction=interaction))
        return interaction


def event(kind: TimelineEventType, contact_id: uuid.UUID, **body: Any) -> TimelineEvent:
    return TimelineEvent(
        event_id=event_id_for(kind.value, str(uuid.uuid4())),
        type=kind,
        contact_id=contact_id,
        occurred_at=FakeClock()(),
        **body,
    )


@pytest.fixture
async def harness(private_broker: EmbeddedBroker, private_database_url: str) -> AsyncIterator[Harness]:
    pool: AsyncConnectionPool = AsyncConnectionPool(
        private_database_url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=False
    )
    await pool.open()
    producer = clients.producer(KafkaSettings(idempotence=False), private_broker.bootstrap)
    await producer.start()
    clock = FakeClock()
    engine = SuggestionEngine(pool, TopicPublisher(producer).publish, SuggestionSettings().policy(), clock=clock)
    try:
        yield Harness(engine, clock, producer, private_broker.bootstrap)
    finally:
        await producer.stop()
        await pool.close()


@pytest.fixture
async def api(private_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    pool: AsyncConnectionPool = AsyncConnectionPool(
        private_database_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
    )
    await pool.open()
    app = FastAPI()
    audit = Audit(pool.connection, TokenAuth({"agent-token": "agent"}, pool.connection))
    app.include_router(suggestions.router(pool.connection, audit, default_region="PT"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        yield client
    await pool.close()


async def new_contact(private_db: Conn, merged_into: uuid.UUID | None = None) -> uuid.UUID:
    contact_id = uuid.uuid4()
    await private_db.execute(
        "INSERT INTO contacts (contact_id, merged_into) VALUES (%s, %s)", (contact_id, merged_into)
    )
    return contact_id


async def suggestions_of(api: httpx.AsyncClient, contact_id: uuid.UUID, status: str = "open") -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/contacts/{contact_id}/suggestions", params={"status": status}, headers=AGENT)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def on_suggestions_topic(bootstrap: str, suggestion_id: str) -> list[dict[str, Any]]:
    records = [json.loads(v) for _, v in await read_topic(bootstrap, topics.SUGGESTIONS) if v]
    return [r for r in records if r["suggestion_id"] == suggestion_id]


async def test_unanswered_sms_opens_after_the_sla_and_a_reply_closes_it(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana = await new_contact(private_db)
    sms = await harness.added(ana, Channel.sms, Direction.inbound)
    await harness.engine.tick()
    assert await suggestions_of(api, ana) == []

    harness.clock.advance(minutes=61)
    await harness.engine.tick()  # the periodic evaluation, driven by the fake clock
    [opened] = await suggestions_of(api, ana)
    assert opened["rule"] == "unanswered"
    assert opened["interaction_ids"] == [str(sms.interaction_id)]
    assert opened["contact_id"] == str(ana)
    everyone = (await api.get("/api/v1/suggestions", params={"status": "open"}, headers=AGENT)).json()["items"]
    assert opened["suggestion_id"] in [s["suggestion_id"] for s in everyone]

    harness.clock.advance(minutes=5)
    await harness.added(ana, Channel.email, Direction.outbound)
    assert await suggestions_of(api, ana) == []
    [closed] = await suggestions_of(api, ana, "closed")
    assert (closed["suggestion_id"], closed["close_reason"]) == (opened["suggestion_id"], "answered")
    published = await on_suggestions_topic(harness.bootstrap, opened["suggestion_id"])
    assert [p["status"] for p in published] == ["open", "closed"]


async def test_a_closing_thanks_opens_nothing_and_a_question_after_our_reply_does(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana = await new_contact(private_db)
    await harness.added(ana, Channel.sms, Direction.inbound, text="A minha encomenda não chegou")
    harness.clock.advance(minutes=10)
    await harness.added(ana, Channel.sms, Direction.outbound, text="Já foi enviada, chega amanhã.")
    harness.clock.advance(days=1)
    await harness.added(ana, Channel.whatsapp, Direction.inbound, text="Já chegou, muito obrigada! 🙏")
    harness.clock.advance(days=2)
    await harness.engine.tick()
    assert await suggestions_of(api, ana) == []  # a thank-you asks for nothing: no reply-needed loop

    await harness.added(ana, Channel.whatsapp, Direction.inbound, text="Obrigada, mas falta uma peça?")
    harness.clock.advance(hours=2)
    await harness.engine.tick()
    [opened] = await suggestions_of(api, ana)
    assert opened["rule"] == "unanswered"
    assert opened["reason"] == (
        "The customer's WhatsApp message has had no reply for 2 hours; "
        "WhatsApp messages should be answered within 1 hour."
    )


async def test_a_reply_in_the_same_thread_to_someone_else_answers(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana, colleague = await new_contact(private_db), await new_contact(private_db)
    await harness.added(ana, Channel.email, Direction.inbound, thread="<order-77@shop.example>")
    harness.clock.advance(hours=1)
    await harness.added(colleague, Channel.email, Direction.outbound, thread="<order-77@shop.example>")
    harness.clock.advance(hours=25)
    await harness.engine.tick()
    assert await suggestions_of(api, ana) == []


async def test_multi_channel_opens_on_the_third_channel_unless_the_contact_objects_to_profiling(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana, rui = await new_contact(private_db), await new_contact(private_db)
    await consent.record(private_db, rui, consent.PROFILING, granted=False, source="api")
    for channel in (Channel.email, Channel.sms, Channel.whatsapp):
        await harness.added(ana, channel, Direction.inbound)
        await harness.added(rui, channel, Direction.inbound)
        harness.clock.advance(minutes=10)
    [multi] = await suggestions_of(api, ana)
    assert multi["rule"] == "multi_channel"
    assert multi["profiling"] is True
    assert len(multi["interaction_ids"]) == 3
    assert await suggestions_of(api, rui) == []

    await consent.record(private_db, ana, consent.PROFILING, granted=False, source="api")
    await harness.engine.tick()
    [closed] = await suggestions_of(api, ana, "closed")
    assert closed["close_reason"] == "the contact objects to profiling"


async def test_suggestions_follow_a_merge_to_the_survivor_and_an_unmerge_back(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    survivor, loser = await new_contact(private_db), await new_contact(private_db)
    await harness.added(loser, Channel.whatsapp, Direction.inbound)
    harness.clock.advance(hours=22, minutes=30)
    await harness.engine.tick()
    rules = sorted(s["rule"] for s in await suggestions_of(api, loser))
    assert rules == ["unanswered", "whatsapp_window"]

    await private_db.execute("UPDATE contacts SET merged_into = %s WHERE contact_id = %s", (survivor, loser))
    await harness.publish(event(TimelineEventType.contact_merged, survivor))
    via_loser = await suggestions_of(api, loser)
    assert {s["contact_id"] for s in via_loser} == {str(survivor)}
    assert sorted(s["suggestion_id"] for s in via_loser) == sorted(
        s["suggestion_id"] for s in await suggestions_of(api, survivor)
    )
    window = next(s for s in via_loser if s["rule"] == "whatsapp_window")
    published = await on_suggestions_topic(harness.bootstrap, window["suggestion_id"])
    # Keyed by contact: each contact's records are in order; across contacts (partitions) they are not.
    assert sorted((p["status"], p["contact_id"]) for p in published) == sorted(
        [("open", str(loser)), ("open", str(survivor))]
    )

    await private_db.execute("UPDATE contacts SET merged_into = NULL WHERE contact_id = %s", (loser,))
    await harness.publish(event(TimelineEventType.contact_unmerged, survivor))
    assert await suggestions_of(api, survivor) == []  # nothing closed: both moved back
    back = await suggestions_of(api, loser)
    assert sorted(s["suggestion_id"] for s in back) == sorted(s["suggestion_id"] for s in via_loser)
    assert {s["contact_id"] for s in back} == {str(loser)}
    published = await on_suggestions_topic(harness.bootstrap, window["suggestion_id"])
    assert sorted(p["contact_id"] for p in published) == sorted([str(loser), str(survivor), str(loser)])

    harness.clock.advance(hours=2)  # the 24-hour window closed
    await harness.engine.tick()
    assert [s["rule"] for s in await suggestions_of(api, loser)] == ["unanswered"]


async def test_pending_merge_review_is_suggested_on_both_contacts_until_decided(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    a, b = sorted([await new_contact(private_db), await new_contact(private_db)])
    review_id = uuid.uuid4()
    await private_db.execute(
        "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
        (review_id, a, b),
    )
    await harness.engine.tick()
    for contact in (a, b):
        [review] = await suggestions_of(api, contact)
        assert (review["rule"], review["review_id"]) == ("merge_review", str(review_id))
    await private_db.execute(
        "UPDATE identity_reviews SET status = 'rejected', decided_at = now() WHERE review_id = %s", (review_id,)
    )
    await harness.engine.tick()
    assert await suggestions_of(api, a) == []
    assert [s["close_reason"] for s in await suggestions_of(api, b, "closed")] == ["the merge review was decided"]


async def test_undecodable_timeline_record_is_dead_lettered_and_the_rest_is_handled(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana = await new_contact(private_db)
    interaction = harness.interaction(Channel.sms, Direction.inbound)
    marker = uuid.uuid4().hex.encode()
    # JSON, so other readers of the shared test topic can parse it; not a timeline event all the same.
    raw = b'{"type": "suggestion.bogus", "marker": "' + marker + b'"}'
    await harness.publish(event(TimelineEventType.interaction_added, ana, interaction=interaction), raw=raw)
    harness.clock.advance(hours=2)
    await harness.engine.tick()
    assert [s["rule"] for s in await suggestions_of(api, ana)] == ["unanswered"]
    dead = [json.loads(v) for _, v in await read_topic(harness.bootstrap, topics.DEADLETTER) if v]
    [record] = [d for d in dead if marker in base64.b64decode(d["raw_base64"])]
    assert record["source"] == "pipeline.suggestions"
    assert record["reason"].startswith("invalid timeline event")


async def test_api_pages_open_suggestions_and_refuses_bad_input(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    missing = await api.get(f"/api/v1/contacts/{uuid.uuid4()}/suggestions", headers=AGENT)
    assert missing.status_code == 404
    assert (await api.get("/api/v1/suggestions")).status_code == 401
    assert (await api.get("/api/v1/suggestions", params={"status": "maybe"}, headers=AGENT)).status_code == 422
    assert (await api.get("/api/v1/suggestions", params={"cursor": "garbage"}, headers=AGENT)).status_code == 400
    for _ in range(3):
        await harness.added(await new_contact(private_db), Channel.livechat, Direction.inbound)
    harness.clock.advance(minutes=6)
    await harness.engine.tick()
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"status": "open", "rule": "unanswered", "limit": 2}
        params |= {"cursor": cursor} if cursor else {}
        page = (await api.get("/api/v1/suggestions", params=params, headers=AGENT)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len({s["suggestion_id"] for s in seen}) == len(seen) >= 3
    assert all(s["status"] == "open" for s in seen)
    assert all(s["rule"] == "unanswered" for s in seen)
    opened = [s["opened_at"] for s in seen]
    assert opened == sorted(opened, reverse=True)  # newest first


async def test_dormant_customer_is_suggested_from_their_own_rhythm_and_closes_when_they_return(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana = await new_contact(private_db)
    for _ in range(3):  # weekly visits, each answered
        await harness.added(ana, Channel.email, Direction.inbound)
        await harness.added(ana, Channel.email, Direction.outbound)
        harness.clock.advance(days=7)
    harness.clock.advance(days=6)  # 13 days since the last visit: under 2 x 7 days
    await harness.engine.tick()
    assert await suggestions_of(api, ana) == []
    harness.clock.advance(days=1, hours=1)
    await harness.engine.tick()
    [dormant] = await suggestions_of(api, ana)
    assert dormant["rule"] == "dormant"
    assert dormant["profiling"] is True
    await harness.added(ana, Channel.sms, Direction.inbound)
    assert [s["rule"] for s in await suggestions_of(api, ana, "closed")] == ["dormant"]


async def test_erasure_closes_what_was_open_and_keeps_nothing(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    ana = await new_contact(private_db)
    await harness.added(ana, Channel.sms, Direction.inbound)
    harness.clock.advance(hours=2)
    await harness.engine.tick()
    [opened] = await suggestions_of(api, ana)
    await harness.publish(event(TimelineEventType.contact_erased, ana))
    assert await suggestions_of(api, ana, "all") == []
    for table in ("suggestion_activity", "suggestions", "suggestion_schedule"):
        cur = await private_db.execute(f"SELECT count(*) FROM {table} WHERE contact_id = %s", (ana,))  # noqa: S608  # fixed names
        assert (await one(cur))[0] == 0, table
    published = await on_suggestions_topic(harness.bootstrap, opened["suggestion_id"])
    assert [(p["status"], p["close_reason"]) for p in published][-1] == ("closed", "contact erased")


async def test_erasure_closes_her_reviews_for_good_and_forgets_the_contacts_merged_into_her(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    her, merged_away, other = [await new_contact(private_db) for _ in range(3)]
    # Before it was merged into her, the merged-away contact had its own history: a message answered late.
    await harness.added(merged_away, Channel.sms, Direction.inbound)
    harness.clock.advance(hours=2)
    await harness.engine.tick()
    [answered] = await suggestions_of(api, merged_away)
    await harness.added(merged_away, Channel.sms, Direction.outbound)
    assert [s["suggestion_id"] for s in await suggestions_of(api, merged_away, "closed")] == [answered["suggestion_id"]]
    await merges.merge(private_db, her, [merged_away], cause="test", rule="manual", evidence={})
    await harness.publish(event(TimelineEventType.contact_merged, her))
    a, b = sorted([her, other])
    await private_db.execute(
        "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
        (uuid.uuid4(), a, b),
    )
    await harness.engine.tick()
    assert [s["rule"] for s in await suggestions_of(api, other)] == ["merge_review"]

    assert await erasure.erase(private_db, her, erasure.IdentifierHasher(b"k" * 32), requested_by="test")
    await harness.publish(event(TimelineEventType.contact_erased, her))
    await harness.engine.tick()  # what reads the open reviews: nothing of hers comes back
    for contact in (her, merged_away):
        for table in ("suggestion_activity", "suggestions", "suggestion_schedule"):
            cur = await private_db.execute(f"SELECT count(*) FROM {table} WHERE contact_id = %s", (contact,))  # noqa: S608  # fixed names
            assert (await one(cur))[0] == 0, (table, contact == her)
    assert await suggestions_of(api, other) == []
    assert [s["close_reason"] for s in await suggestions_of(api, other, "closed")] == ["the merge review was decided"]


async def test_a_review_an_earlier_release_left_open_on_an_erased_contact_is_not_suggested(
    harness: Harness, api: httpx.AsyncClient, private_db: Conn
) -> None:
    her, other = await new_contact(private_db), await new_contact(private_db)
    await private_db.execute("UPDATE contacts SET erased_at = now() WHERE contact_id = %s", (her,))
    a, b = sorted([her, other])
    await private_db.execute(
        "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
        (uuid.uuid4(), a, b),
    )
    await harness.engine.tick()
    assert await suggestions_of(api, her, "all") == await suggestions_of(api, other, "all") == []


async def test_two_engines_on_the_same_contacts_at_once_agree(
    harness: Harness, database_url: str, api: httpx.AsyncClient, private_db: Conn
) -> None:
    """Two workers (e.g. around a rebalance) evaluating the same contacts concurrently, in
    opposite orders: no deadlock or error, and one suggestion per condition."""
    contacts = [await new_contact(private_db) for _ in range(20)]
    events = [
        event(TimelineEventType.interaction_added, c, interaction=harness.interaction(channel, Direction.inbound))
        for c in contacts
        for channel in (Channel.email, Channel.sms, Channel.whatsapp)
    ]
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        other = SuggestionEngine(pool, harness.engine.publish, harness.engine.policy, clock=harness.clock)
        await asyncio.gather(harness.engine.handle(events), other.handle(list(reversed(events))))
        harness.clock.advance(hours=2)
        await asyncio.gather(harness.engine.tick(), other.tick())
    for contact in contacts:
        assert sorted(s["rule"] for s in await suggestions_of(api, contact)) == ["multi_channel", "unanswered"]
