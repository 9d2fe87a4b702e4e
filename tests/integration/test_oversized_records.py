"""A signed body too large for the broker once dead-lettered (base64 makes it x1.33) against a real ``omnitrail
up``: it is kept (the bytes in a file, the dead letter pointing at them) and the webhooks after it still reach
the interactions topic. It used to be spooled as "broker down" and retried forever, ahead of every later
webhook: each was answered 2xx and none reached Kafka again."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import httpx
import pytest

from connectors.timestamped_signature import TimestampedSignature
from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.deadletter import DeadLetter
from tests.integration.stack import Stack, eventually, read_topic
from tests.livechat_payloads import EVENTS_SECRET, v1_interaction

pytestmark = pytest.mark.integration


def post_signed(stack: Stack, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", **TimestampedSignature(EVENTS_SECRET).sign(body, int(time.time()))}
    return httpx.post(stack.url + "/webhooks/events", content=body, headers=headers, timeout=30)


async def test_an_oversized_dead_letter_is_kept_and_does_not_block_later_webhooks(
    webhook_stack: Stack, broker: EmbeddedBroker
) -> None:
    run = uuid.uuid4().hex[:12]
    # Signed, within the 1 MiB body limit, not an interaction: its dead letter would be ~1.07 MB.
    big = json.dumps({"channel": "sms", "run": run, "note": "x" * 800_000}).encode()
    assert post_signed(webhook_stack, big).status_code == 400
    small = json.dumps(v1_interaction(f"after-{run}", "oversize@example.com")).encode()
    assert post_signed(webhook_stack, small).status_code < 300

    async def small_on_topic() -> bool:
        return any(
            f"after-{run}".encode() in (value or b"")
            for _, value in await read_topic(broker.bootstrap, topics.INTERACTIONS)
        )

    await eventually(small_on_topic, timeout=30, what="the later webhook on the interactions topic")

    digest = hashlib.sha256(big).hexdigest()

    async def kept() -> DeadLetter | None:
        letters = [
            DeadLetter.model_validate_json(v or b"") for _, v in await read_topic(broker.bootstrap, topics.DEADLETTER)
        ]
        return next((letter for letter in letters if letter.raw_sha256 == digest), None)

    letter = await eventually(kept, timeout=30, what="the dead letter of the oversized body")
    assert letter.source == "events"
    assert letter.raw_size == len(big)
    assert letter.raw_file is not None
    assert (webhook_stack.log_path.parent / ".omnitrail" / letter.raw_file).read_bytes() == big
