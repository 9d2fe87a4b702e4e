"""One bad entry of a batched webhook never loses the others: it is dead-lettered alone."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response

from connectors.json_batch import normalize_json_batch
from connectors.livechat.events import normalize_body
from connectors.testing import InMemoryEmitter, webhook_app
from connectors.webhook import Normalized, RawRequest, Rejected, Route, WebhookIngest, serve
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from tests.channel_payloads import (
    PAGE_ID,
    messaging_event,
    meta_connector,
    meta_signed,
    page_payload,
)
from tests.livechat_payloads import chat_event


def normalize_batch(raw: RawRequest) -> Normalized:
    """A toy batch format: a JSON list of {"id", "phone"}; entries without a phone are bad."""
    good, bad = [], []
    for entry in json.loads(raw.body):
        if "phone" not in entry:
            bad.append(Rejected("entry has no phone", json.dumps(entry).encode()))
            continue
        good.append(
            Interaction.build(
                channel=Channel.sms,
                provider=Provider.events,
                account="+351210000000",
                direction=Direction.inbound,
                occurred_at=datetime.now(UTC),
                received_at=raw.received_at,
                external_id=entry["id"],
                sender=Party(identifiers=[Identifier.of("phone", entry["phone"])]),
            )
        )
    return Normalized(good, bad)


@pytest.fixture
def emitter() -> InMemoryEmitter:
    return InMemoryEmitter()


@pytest.fixture
def client(emitter: InMemoryEmitter) -> httpx.AsyncClient:
    ingest = WebhookIngest(emitter, public_url="http://hooks", max_body_bytes=4096)
    route = Route("/batch", "toy.batch", "toy batches", lambda _: None, normalize_batch, lambda _: Response())
    router, _ = serve([route], [], ingest)
    app = FastAPI()
    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal")


async def test_good_entries_are_ingested_and_the_bad_one_dead_lettered_alone(
    client: httpx.AsyncClient, emitter: InMemoryEmitter
) -> None:
    entries = [{"id": "a", "phone": "912345678"}, {"id": "b"}, {"id": "c", "phone": "913345678"}]
    response = await client.post("/batch", content=json.dumps(entries))
    assert response.status_code == 200
    assert [i.external_id for i in emitter.interactions] == ["a", "c"]
    [dead] = emitter.dead_letters
    assert dead.reason == "entry has no phone"
    assert json.loads(dead.raw) == {"id": "b"}


async def test_a_batch_with_nothing_good_is_400(client: httpx.AsyncClient, emitter: InMemoryEmitter) -> None:
    response = await client.post("/batch", content=json.dumps([{"id": "x"}]))
    assert response.status_code == 400
    assert response.json()["reason"] == "entry has no phone"
    assert emitter.interactions == []
    assert len(emitter.dead_letters) == 1


async def test_broker_down_is_503_and_nothing_is_acknowledged(
    client: httpx.AsyncClient, emitter: InMemoryEmitter
) -> None:
    emitter.fail = True
    response = await client.post("/batch", content=json.dumps([{"id": "a", "phone": "912345678"}, {"id": "b"}]))
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_one_messenger_event_a_normalizer_trips_on_leaves_the_others_ingested(emitter: InMemoryEmitter) -> None:
    meta = meta_connector()
    app = webhook_app(meta, emitter)
    events = [
        messaging_event("m_good1", "6213", PAGE_ID),
        messaging_event("m_broken", "6214", PAGE_ID, attachments=1),  # not a list: no check foresaw it
        messaging_event("m_good2", "6215", PAGE_ID),
    ]
    body, headers = meta_signed(page_payload("page", PAGE_ID, *events))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.post("/webhooks/meta", content=body, headers=headers)
    assert response.status_code == 200
    assert [i.external_id for i in emitter.interactions] == ["m_good1", "m_good2"]
    [dead] = emitter.dead_letters
    assert dead.reason == "cannot be normalized (TypeError)"
    # Its own bytes: replayable alone.
    assert b"m_broken" in dead.raw
    assert b"m_good" not in dead.raw


def item(n: Any) -> Interaction:
    if n == 1:
        raise KeyError("a bug")
    return Interaction.build(
        channel=Channel.livechat,
        provider=Provider.events,
        account="website",
        direction=Direction.inbound,
        occurred_at=datetime.now(UTC),
        received_at=datetime.now(UTC),
        external_id=f"e{n}",
        sender=Party(identifiers=[Identifier.of("livechat", f"website:v{n}")]),
    )


def test_a_json_batch_item_that_raises_anything_is_rejected_alone_with_its_bytes() -> None:
    result = normalize_json_batch(b"[0, 1, 2]", item, what="event")
    assert [i.external_id for i in result.interactions] == ["e0", "e2"]
    assert result.rejected == [Rejected("invalid event 1: cannot be normalized (KeyError)", b"1")]


def test_a_cancelled_request_is_not_turned_into_a_rejected_item() -> None:
    def cancelled(_: Any) -> Interaction:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        normalize_json_batch(b"[0, 1]", cancelled, what="event")


def test_a_live_chat_event_with_half_an_emoji_does_not_cost_the_batch() -> None:
    visitor = {"id": "v-42"}
    events = [
        chat_event("e1", "message", "s1", visitor, text="Olá \ud83d"),  # a JS widget cut the emoji in half
        chat_event("e2", "message", "s1", visitor, text="Obrigada \ud83d\ude00"),
    ]
    body = json.dumps(events).encode()
    assert b'"Ol\\u00e1 \\ud83d"' in body  # the lone surrogate escape itself, as the widget sent it
    result = normalize_body(body, account="website", received_at=datetime.now(UTC), default_region="PT")
    assert [i.text for i in result.interactions] == ["Olá \ufffd", "Obrigada \U0001f600"]
    assert result.rejected == []


def test_an_escaped_backslash_before_u_d83d_is_text_and_other_invalid_json_is_still_refused() -> None:
    visitor = {"id": "v-42"}
    body = json.dumps([chat_event("e1", "message", "s1", visitor, text="C:\\ud83d \ud83d")]).encode()
    [message] = normalize_body(body, account="website", received_at=datetime.now(UTC), default_region="PT").interactions
    assert message.text == "C:\\ud83d \ufffd"
    with pytest.raises(InvalidPayload, match="body is not JSON"):
        normalize_body(
            b'[{"text": "\\ud83d", }]', account="website", received_at=datetime.now(UTC), default_region="PT"
        )
