"""One bad entry of a batched webhook never loses the others: it is dead-lettered alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Response

from connectors.testing import InMemoryEmitter
from connectors.webhook import Normalized, RawRequest, Rejected, Route, WebhookIngest, serve
from schemas.identifiers import Identifier
from schemas.interaction import Channel, Direction, Interaction, Party, Provider


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
