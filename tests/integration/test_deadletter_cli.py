"""`omnitrail deadletter list|replay` against the real broker, pipeline and PostgreSQL: an operator
sees why payloads were refused (and no personal data), fixes the cause, and re-drives them once."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.deadletter import DeadLetter
from schemas.ids import interaction_id_for
from sinks.connection import Conn
from tests import fresh
from tests.email_corpus import SUPPORT, complaint
from tests.helpers import AUTH_TOKEN, inbound_sms, signed, sms_interaction
from tests.integration.barrier import pass_barrier
from tests.integration.rows import one
from tests.integration.stack import Stack, StartStack, clean_env, eventually
from tests.telegram_updates import encode, text_update
from tests.telegram_updates import user as telegram_user

pytestmark = pytest.mark.integration
OUR_ACCOUNT = "AC" + "7" * 32
SUPPORT_BOT_ID = 7000000009


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """A dead-letter topic only this module writes to: no other test's dead letter can fall in a window."""
    return private_broker


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    # This deployment takes one Twilio account only; the test's webhooks come from another one.
    return start_stack(OMNITRAIL_TWILIO_ACCOUNT_SID=OUR_ACCOUNT)


async def a_fresh_second() -> str:
    """The next whole second, once it has begun (``--since`` takes whole seconds): every dead letter made
    before this call was received before it."""
    now = datetime.now(UTC)
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    await asyncio.sleep((start - now).total_seconds())
    return start.strftime("%Y-%m-%dT%H:%M:%S")


def omnitrail(broker: EmbeddedBroker, database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        OMNITRAIL_LOG_LEVEL="warning",
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-m", "omnitrail", *args], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


async def test_list_then_replay_after_the_fix_brings_each_refused_event_in_once(
    stack: Stack, broker: EmbeddedBroker, database_url: str, db: Conn
) -> None:
    # The window is how an operator picks what to replay: it starts after every other dead letter on the module's
    # topic (the other test's, if it ran first), so it holds this test's two and nothing else.
    since = await a_fresh_second()
    phone = fresh.phone()
    body_text = f"A minha fatura {uuid.uuid4().hex[:6]} está errada"
    sid = f"SM{uuid.uuid4().hex}"
    # 1. A signed webhook for another account: refused (400) and dead-lettered by the connector.
    params = inbound_sms(sid, phone, body=body_text)  # AccountSid AC000..., not OUR_ACCOUNT
    payload, headers = signed(stack.url + "/webhooks/twilio/messages", params)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(stack.url + "/webhooks/twilio/messages", content=payload, headers=headers)
    assert response.status_code == 400
    # 2. A record a (since fixed) pipeline stage refused, as PoisonIsolation writes it.
    refused = sms_interaction(random.randint(10**9, 10**10), phone, text=body_text)
    letter = DeadLetter.of(
        refused.model_dump_json().encode(),
        "a pipeline stage failed on this record: InternalError",
        source="pipeline.stage",
        error_type="InternalError",
        content_type="application/json",
        topic=topics.INTERACTIONS,
        partition=0,
        offset=12345,
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.DEADLETTER, letter.model_dump_json().encode())
    finally:
        await producer.stop()

    async def listed() -> str | None:
        out = omnitrail(broker, database_url, "deadletter", "list", "--since", since).stdout
        return out if out.count("\n") >= 2 else None

    listing = await eventually(listed, timeout=30, what="both dead letters listed")
    assert "twilio.messages" in listing
    assert "AccountSid is not the configured account" in listing
    assert "pipeline.stage" in listing
    assert f"from {topics.INTERACTIONS}[0]@12345" in listing
    for personal in (phone, phone[4:], body_text, "fatura"):
        assert personal not in listing
    only_pipeline = omnitrail(
        broker, database_url, "deadletter", "list", "--since", since, "--source", "pipeline.stage"
    )
    assert only_pipeline.stdout.count("\n") == 1
    with_raw = omnitrail(broker, database_url, "deadletter", "list", "--since", since, "--with-raw").stdout
    assert body_text in with_raw  # explicitly asked for

    webhook_id = interaction_id_for("sms", "+351210000000", sid)
    ids = [webhook_id, refused.interaction_id]

    async def rows() -> int:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return int((await one(cur))[0])

    # Before the fix, replay still refuses the webhook one (the deployment's account setting is unchanged).
    dry = omnitrail(
        broker,
        database_url,
        "deadletter",
        "replay",
        "--since",
        since,
        "--dry-run",
        OMNITRAIL_TWILIO_ACCOUNT_SID=OUR_ACCOUNT,
    )
    assert "would produce 1 record(s); 1 still invalid" in dry.stdout
    assert "AccountSid is not the configured account" in dry.stderr
    # Had the dry run produced anything, it would be on the key both records route by (the same customer):
    # once a marker produced after it on that key is stored, it would have been stored too.
    await pass_barrier(broker.bootstrap, db, [refused.routing_key()])
    assert await rows() == 0
    # 3. The fix: the account setting was wrong. Replay now; then replay again (twice is harmless).
    for _ in range(2):
        done = omnitrail(broker, database_url, "deadletter", "replay", "--since", since)
        assert "produced 2 record(s); 0 still invalid; 0 without a configured connector" in done.stdout

    async def both() -> bool:
        return await rows() == 2

    await eventually(both, timeout=60, what="both replayed events in the timeline")
    cur = await db.execute("SELECT document->>'text' FROM interactions WHERE interaction_id = %s", (webhook_id,))
    assert (await one(cur))[0] == body_text


async def test_pull_connectors_dead_letters_are_replayed_as_the_bot_and_mailbox_that_refused_them(
    stack: Stack, broker: EmbeddedBroker, database_url: str, db: Conn, tmp_path: Path
) -> None:
    """A polled Telegram update and an IMAP message, refused by since-fixed code, replay into the timeline:
    the update as the named bot that polled it, the message threaded as the mailbox it belongs to."""
    tag = uuid.uuid4().hex
    person = telegram_user(user_id=random.randint(6 * 10**8, 7 * 10**8), first="Rui", last="Costa", username=None)
    update = text_update(random.randint(10**6, 10**7), 77, person, text=f"Bom dia {tag}")
    letters = [
        DeadLetter.of(encode(update), f"bug {tag}", source="telegram.polling.support", content_type="application/json"),
        DeadLetter.of(complaint(tag), f"bug {tag}", source="email.imap", content_type="message/rfc822"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(topics.DEADLETTER, letter.model_dump_json().encode())
    finally:
        await producer.stop()
    config = tmp_path / "omnitrail.toml"
    config.write_text(f'[telegram.bots.support]\nbot_token = "{SUPPORT_BOT_ID}:{"S" * 35}"\nmode = "polling"\n')
    done = omnitrail(
        broker,
        database_url,
        "deadletter",
        "replay",
        "--reason",
        tag,
        OMNITRAIL_CONFIG=str(config),
        OMNITRAIL_IMAP_HOST="127.0.0.1",
        OMNITRAIL_IMAP_USERNAME=SUPPORT,
        OMNITRAIL_IMAP_PASSWORD="never-used",
    )
    assert "2 dead letter(s): produced 2 record(s); 0 still invalid; 0 without a configured connector" in done.stdout

    async def replayed() -> dict[str, str] | None:
        cur = await db.execute(
            "SELECT document->>'provider', document->>'account' FROM interactions WHERE document::text LIKE %s",
            (f"%{tag}%",),
        )
        found: dict[str, str] = dict(await cur.fetchall())
        return found if len(found) == 2 else None

    found = await eventually(replayed, timeout=60, what="the replayed update and message in the timeline")
    assert found == {"telegram": str(SUPPORT_BOT_ID), "imap": SUPPORT}
