"""Contract tests every connector passes: subclass once per channel, in a test module, as ``Test...``.

:class:`WebhookContract` runs through a real ``omnitrail up`` (HTTP port, broker, PostgreSQL).
The subclass says how to build a valid signed call for a fresh event, and a signed call that
cannot be normalized; the contract checks what every provider integration promises:

- a redelivered event (the same call three times, as providers retry) is one timeline entry;
- a missing or wrong signature is 403 and stores nothing;
- a signed payload that cannot be normalized is 400 and lands on the dead-letter topic with
  its exact raw bytes and the reason;
- a dead letter of the route (what a since-fixed normalizer refused), replayed with
  ``omnitrail deadletter replay``, becomes its timeline entry.

:class:`PullContract` runs a pull connector against its real source (an IMAP server, a Bot API
server) with an in-memory emitter whose ``fail`` switch plays a broker outage:

- the checkpoint advances only after the broker acknowledged (an outage leaves it where it was,
  and the next poll sends everything);
- a restarted connector resumes from the checkpoint: no duplicates, no gaps;
- re-reading without a checkpoint produces the same interaction ids (a resync creates no duplicates).

Fixtures a test session must provide: ``webhook_stack`` (``.url`` of a running ``omnitrail up``
with the channel configured; ``tests/integration/conftest.py`` starts one for all channels from
``tests/channel_env.py``), ``db`` (async psycopg connection to its database), ``database_url``
and ``broker`` (``.bootstrap``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from connectors.base import AnyConnector
from connectors.emitter import KafkaEmitter
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.errors import RetriableError
from tests.channel_env import CHANNEL_ENV
from tests.integration.stack import clean_env, eventually, read_topic


@dataclass(frozen=True)
class WebhookCall:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"

    def without(self, *names: str) -> WebhookCall:
        lowered = {n.lower() for n in names}
        return replace(self, headers={k: v for k, v in self.headers.items() if k.lower() not in lowered})


async def send(base_url: str, call: WebhookCall) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        return await http.request(call.method, call.path, content=call.body, headers=call.headers)


async def stored(db: Any, ids: list[uuid.UUID]) -> int:
    cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
    row = await cur.fetchone()
    return int(row[0])


@pytest.mark.integration
class WebhookContract(ABC):
    #: The route's name in dead letters and metrics (``twilio.messages``, ``meta``...).
    source: ClassVar[str]
    #: Headers that carry the signature; the contract drops them to send an unsigned call.
    signature_headers: ClassVar[tuple[str, ...]]
    #: A secret that is not the configured one, to forge a signature.
    wrong_secret: ClassVar[str] = "not-the-configured-secret"
    ok_statuses: ClassVar[tuple[int, ...]] = (200,)

    @abstractmethod
    def call(self, base_url: str, event: str, *, secret: str | None = None) -> WebhookCall:
        """A valid call for a new event whose provider id contains ``event``, signed with ``secret``
        (None: the secret the stack is configured with)."""

    @abstractmethod
    def expected_ids(self, event: str) -> list[uuid.UUID]:
        """The interaction ids the valid call for ``event`` must store."""

    @abstractmethod
    def malformed(self, base_url: str) -> WebhookCall:
        """A correctly signed call whose payload cannot be normalized."""

    async def arrange(self, event: str, broker: Any) -> None:  # noqa: B027  # optional hook: most channels need nothing
        """Make what the call for ``event`` refers to exist first (the message a status callback is
        about); most channels need nothing."""

    async def test_redelivery_is_one_timeline_entry(self, webhook_stack: Any, db: Any, broker: Any) -> None:
        event = uuid.uuid4().hex[:16]
        await self.arrange(event, broker)
        call = self.call(webhook_stack.url, event)
        for _ in range(3):
            response = await send(webhook_stack.url, call)
            assert response.status_code in self.ok_statuses, response.text
        ids = self.expected_ids(event)
        assert ids
        await eventually(lambda: self._all_stored(db, ids), what="the redelivered event in the timeline")
        assert await stored(db, ids) == len(ids)

    async def test_bad_or_missing_signature_is_403_and_stores_nothing(
        self, webhook_stack: Any, db: Any, broker: Any
    ) -> None:
        forged, unsigned, good = (uuid.uuid4().hex[:16] for _ in range(3))
        await self.arrange(good, broker)
        response = await send(webhook_stack.url, self.call(webhook_stack.url, forged, secret=self.wrong_secret))
        assert response.status_code == 403, response.text
        bare = self.call(webhook_stack.url, unsigned).without(*self.signature_headers)
        assert (await send(webhook_stack.url, bare)).status_code == 403
        # A valid event sent after them lands: by then anything the rejected ones produced would have too.
        assert (await send(webhook_stack.url, self.call(webhook_stack.url, good))).status_code in self.ok_statuses
        await eventually(lambda: self._all_stored(db, self.expected_ids(good)), what="the valid event")
        assert await stored(db, self.expected_ids(forged) + self.expected_ids(unsigned)) == 0

    async def test_malformed_payload_is_400_and_dead_lettered_with_raw_bytes(
        self, webhook_stack: Any, broker: Any
    ) -> None:
        call = self.malformed(webhook_stack.url)
        response = await send(webhook_stack.url, call)
        assert response.status_code == 400, response.text
        assert response.json()["reason"]

        async def dead_lettered() -> bool:
            records = await read_topic(broker.bootstrap, topics.DEADLETTER)
            return any(v is not None and DeadLetter.model_validate_json(v).raw == call.body for _, v in records)

        await eventually(dead_lettered, what="the raw payload on the dead-letter topic")

    async def test_a_dead_letter_replayed_after_the_fix_is_one_timeline_entry(
        self, webhook_stack: Any, db: Any, broker: Any, database_url: str
    ) -> None:
        event, tag = uuid.uuid4().hex[:16], uuid.uuid4().hex
        await self.arrange(event, broker)
        call = self.call(webhook_stack.url, event)
        # What the route refused while its normalizer had a bug: the exact body, verified on receipt.
        letter = DeadLetter.of(
            call.body, f"normalizer bug {tag}", source=self.source, content_type=call.headers.get("Content-Type")
        )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await KafkaEmitter(producer).dead_letter(letter)
        finally:
            await producer.stop()
        env = clean_env(
            **CHANNEL_ENV,
            OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
            OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            OMNITRAIL_DATABASE_URL=database_url,
            OMNITRAIL_LOG_LEVEL="warning",
        )
        command = [sys.executable, "-m", "omnitrail", "deadletter", "replay", "--reason", tag]
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "1 dead letter(s): produced" in done.stdout, done.stderr
        assert "0 still invalid; 0 without a configured connector" in done.stdout, done.stderr
        await eventually(lambda: self.replayed(db, event), what="the replayed dead letter in the timeline")

    async def replayed(self, db: Any, event: str) -> bool:
        """Whether the replayed valid call for ``event`` is in the timeline (every expected id stored)."""
        return await self._all_stored(db, self.expected_ids(event))

    @staticmethod
    async def _all_stored(db: Any, ids: list[uuid.UUID]) -> bool:
        return await stored(db, ids) == len(ids)


class PullSource(Protocol):
    """A fresh, empty source (a new mailbox, a new bot) and connectors configured against it."""

    def connector(self) -> AnyConnector:
        """A new connector instance (as after a restart) for this source."""

    async def add(self, count: int) -> None:
        """Make ``count`` new items appear at the source."""


@pytest.mark.integration
class PullContract(ABC):
    @abstractmethod
    async def source(self) -> PullSource:
        """A fresh empty source; called once per test."""

    async def test_checkpoint_advances_only_after_the_broker_ack(self) -> None:
        src = await self.source()
        await src.add(3)
        emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
        connector = src.connector()
        try:
            emitter.fail = True
            with pytest.raises(RetriableError):
                await connector.poll(emitter, checkpoints)
            assert checkpoints.states == {}
            emitter.fail = False
            assert await connector.poll(emitter, checkpoints) == 3
            assert checkpoints.states
            assert await connector.poll(emitter, checkpoints) == 0
        finally:
            await connector.close()
        assert len({i.interaction_id for i in emitter.interactions}) == 3

    async def test_restart_resumes_from_the_checkpoint_without_duplicates_or_gaps(self) -> None:
        src = await self.source()
        emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
        await src.add(3)
        first = src.connector()
        try:
            assert await first.poll(emitter, checkpoints) == 3
        finally:
            await first.close()
        await src.add(2)
        second = src.connector()
        try:
            assert await second.poll(emitter, checkpoints) == 2
        finally:
            await second.close()
        ids = [i.interaction_id for i in emitter.interactions]
        assert len(ids) == len(set(ids)) == 5

    async def test_rereading_without_a_checkpoint_gives_the_same_ids(self) -> None:
        src = await self.source()
        await src.add(3)
        runs: list[set[uuid.UUID]] = []
        for _ in range(2):
            emitter, connector = InMemoryEmitter(), src.connector()
            try:
                await connector.poll(emitter, InMemoryCheckpoints())
            finally:
                await connector.close()
            runs.append({i.interaction_id for i in emitter.interactions})
        assert runs[0] == runs[1]
        assert len(runs[0]) == 3
