"""Mail too large for the broker's record limit (bytes, not characters) against a real Dovecot and broker:
a long non-Latin letter is stored shortened, one that cannot be shortened (endless References) is dead-lettered
with its bytes,
and neither stops the mail after it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from connectors import deadletter_bodies
from connectors.deadletter_bodies import DeadLetterBodies
from connectors.emitter import KafkaEmitter
from connectors.testing import InMemoryCheckpoints
from schemas import topics
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests import email_corpus as corpus
from tests.integration.dovecot import Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import read_topic

pytestmark = pytest.mark.integration


async def test_a_message_over_the_record_limit_in_bytes_does_not_stop_the_mail_after_it(
    dovecot: Dovecot, broker: Any, tmp_path: Path
) -> None:
    box = Mailbox(dovecot)
    tag = box.tag
    mail = [corpus.simple(tag, 0), corpus.long_cyrillic(tag), corpus.long_references(tag), corpus.simple(tag, 1)]
    await asyncio.to_thread(dovecot.append, box.user, "INBOX", *mail)
    producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
    await producer.start()
    checkpoints = InMemoryCheckpoints()
    connector = box.connector()
    try:  # the emitter as `omnitrail` wires it for pull loops
        emitter = KafkaEmitter(producer, bodies=DeadLetterBodies(tmp_path / deadletter_bodies.DIRECTORY))
        assert await connector.poll(emitter, checkpoints) == 3
    finally:
        await connector.close()
        await producer.stop()
    assert checkpoints.states[("email", box.user, "INBOX")]["last_uid"] == 4  # past all four: nothing is stuck

    produced = {
        record["external_id"]: record
        for record in (json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.INTERACTIONS) if v)
        if tag in record["external_id"]
    }
    assert set(produced) == {f"s0.{tag}@cliente.example", f"long.{tag}@cliente.example", f"s1.{tag}@cliente.example"}
    long = produced[f"long.{tag}@cliente.example"]
    assert long["metadata"]["truncated"] == ["text"]  # stored shortened; the whole letter stays on the server
    assert long["text"].startswith("Привет мир Привет мир")

    letters = [
        letter
        for letter in (json.loads(v) for _, v in await read_topic(broker.bootstrap, topics.DEADLETTER) if v)
        if letter["raw_sha256"] == hashlib.sha256(mail[2]).hexdigest()
    ]
    assert len(letters) == 1  # the message that cannot be shortened, alone, with its bytes (in a file: too large)
    assert letters[0]["error_type"] == "RecordTooLarge"
    assert (tmp_path / letters[0]["raw_file"]).read_bytes() == mail[2]
