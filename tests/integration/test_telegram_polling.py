"""Polling mode against a local Bot API server: PTB's real HTTP and parsing, the shared pull loop,
the real broker and PostgreSQL checkpoints."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.emitter import KafkaEmitter
from connectors.pull import PullLoop
from connectors.telegram import TelegramConnector, TelegramSettings
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from omnitrail.local_stack import free_port
from schemas.errors import FatalError
from schemas.ids import interaction_id_for
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests.fake_bot_api import FakeBotApi, bot_api_fixture  # noqa: F401  # registers the bot_api fixture
from tests.integration.stack import clean_env, eventually
from tests.telegram_updates import edited_update, message, photo_update, text_update, user

pytestmark = pytest.mark.integration
_bot_ids = itertools.count(7_200_000_001)


def polling(api: FakeBotApi, token: str, *, poll_timeout_s: int = 1) -> TelegramConnector:
    settings = TelegramSettings(bot_token=token, mode="polling", api_url=api.url, poll_timeout_s=poll_timeout_s)
    return TelegramConnector(settings, default_region="PT")


@pytest.fixture
async def running_loops() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_rejected_token_stops_the_loop_naming_the_variable(bot_api: FakeBotApi) -> None:
    token = f"{next(_bot_ids)}:UnknownToUnknownToUnknownToUnknown00"
    loop = PullLoop(polling(bot_api, token), InMemoryEmitter(), InMemoryCheckpoints(), first_delay=0.01)
    with pytest.raises(FatalError, match="OMNITRAIL_TELEGRAM_BOT_TOKEN") as caught:
        await loop.run()
    assert token.split(":")[1] not in str(caught.value)
    assert loop.health.state.startswith("stopped: OMNITRAIL_TELEGRAM_BOT_TOKEN")


async def test_bad_updates_are_dead_lettered_alone_and_the_offset_moves_past_them(bot_api: FakeBotApi) -> None:
    token = bot_api.add_bot(next(_bot_ids))
    good_before = bot_api.push(token, {"message": message(1)})
    no_chat = {k: v for k, v in message(2).items() if k != "chat"}
    bot_api.push_raw(token, {"update_id": good_before["update_id"] + 1, "message": no_chat})  # PTB parses, we refuse
    bot_api.push_raw(token, {"update_id": good_before["update_id"] + 2, "message": "not an object"})  # PTB refuses
    last = bot_api.push(token, {"message": message(4)})
    emitter, checkpoints = InMemoryEmitter(), InMemoryCheckpoints()
    connector = polling(bot_api, token)
    try:
        assert await connector.poll(emitter, checkpoints) == 2
        assert await connector.poll(emitter, checkpoints) == 0
    finally:
        await connector.close()
    assert [i.metadata["message_id"] for i in emitter.interactions] == [1, 4]
    assert [d.source for d in emitter.dead_letters] == ["telegram.polling", "telegram.polling"]
    assert {d.raw for d in emitter.dead_letters} >= {
        b'{"update_id":%d,"message":"not an object"}' % (last["update_id"] - 1)
    }
    assert all(d.reason for d in emitter.dead_letters)
    assert list(checkpoints.states.values()) == [{"offset": last["update_id"] + 1}]
    # The second poll confirmed everything to the Bot API: nothing is pending there any more.
    assert bot_api.offsets(token)[-1] == last["update_id"] + 1
    assert bot_api.bots[token].pending == []


async def test_the_loop_rides_out_a_bot_api_outage_then_long_polls(
    bot_api: FakeBotApi,
    running_loops: list[asyncio.Task[None]],
) -> None:
    token = bot_api.add_bot(next(_bot_ids))
    bot_api.push(token, {"message": message(1)})
    bot_api.fail_next(3)  # 502 from the Bot API front end, three times
    emitter = InMemoryEmitter()
    # A long poll far longer than the wait below: the second message can only arrive in time by waking it.
    loop = PullLoop(polling(bot_api, token, poll_timeout_s=45), emitter, InMemoryCheckpoints(), first_delay=0.05)
    running_loops.append(asyncio.create_task(loop.run()))

    async def received(n: int) -> bool:
        return len(emitter.interactions) >= n

    await eventually(lambda: received(1), timeout=20, what="the message after the outage")
    assert loop.health.state == "ok"
    await eventually(
        lambda: _long_polling(bot_api, token), timeout=10, what="a getUpdates call with the long-poll timeout"
    )
    bot_api.push(token, {"message": message(2)})
    await eventually(lambda: received(2), timeout=15, what="the message that arrived during the long poll")
    assert [i.metadata["message_id"] for i in emitter.interactions] == [1, 2]


async def _long_polling(api: FakeBotApi, token: str) -> bool:
    return any(c.params.get("timeout") == 45 for c in api.calls if c.token == token and c.method == "getUpdates")


async def test_polled_messages_edit_and_photo_reach_the_timeline_with_a_durable_offset(
    bot_api: FakeBotApi,
    webhook_stack: Any,
    broker: Any,
    database_url: str,
    db: Any,
    running_loops: list[asyncio.Task[None]],
) -> None:
    bot_id = next(_bot_ids)
    token = bot_api.add_bot(bot_id)
    customer = user(user_id=880000000 + bot_id % 1000, first="Marta", last="Reis", username="mreis")
    bot_api.push(
        token, {k: v for k, v in text_update(0, 10, customer, text="Qual o prazo?").items() if k != "update_id"}
    )
    bot_api.push(token, {k: v for k, v in photo_update(0, 11, customer).items() if k != "update_id"})
    edit = bot_api.push(
        token, {k: v for k, v in edited_update(0, 10, "Qual o prazo de entrega?", customer).items() if k != "update_id"}
    )
    producer = clients.producer(KafkaSettings(idempotence=False), broker.bootstrap)
    await producer.start()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    try:
        loop = PullLoop(polling(bot_api, token), KafkaEmitter(producer), PostgresCheckpoints(pool), first_delay=0.05)
        running_loops.append(asyncio.create_task(loop.run()))
        text_id = interaction_id_for("telegram", str(bot_id), f"{customer['id']}:10")
        photo_id = interaction_id_for("telegram", str(bot_id), f"{customer['id']}:11")

        async def edited_row() -> Any:
            cur = await db.execute(
                "SELECT document->>'text', document->'metadata'->>'edited_at' FROM interactions"
                " WHERE interaction_id = %s",
                (text_id,),
            )
            row = await cur.fetchone()
            return row if row and row[1] else None

        text, edited_at = await eventually(edited_row, what="the polled message with its edit applied")
        assert text == "Qual o prazo de entrega?"
        assert edited_at
        cur = await db.execute("SELECT count(*) FROM interactions WHERE document->>'account' = %s", (str(bot_id),))
        assert (await cur.fetchone())[0] == 2  # the message and the photo; the edit is no row of its own
        cur = await db.execute(
            "SELECT document->'attachments' FROM interactions WHERE interaction_id = %s", (photo_id,)
        )
        [attachment] = (await cur.fetchone())[0]
        assert attachment["size"] == 88422
        assert attachment["location"].startswith(f"telegram:{bot_id}:")
        cur = await db.execute(
            "SELECT state FROM connector_checkpoints WHERE connector = 'telegram' AND account = %s", (str(bot_id),)
        )
        assert (await cur.fetchone())[0] == {"offset": edit["update_id"] + 1}
    finally:
        for task in running_loops:
            task.cancel()
        await asyncio.gather(*running_loops, return_exceptions=True)
        running_loops.clear()
        await producer.stop()
        await pool.close()


async def test_omnitrail_connector_telegram_polls_alone_as_operations_deploy_it(
    bot_api: FakeBotApi, webhook_stack: Any, broker: Any, database_url: str, db: Any, tmp_path: Any
) -> None:
    bot_id = next(_bot_ids)
    token = bot_api.add_bot(bot_id)
    customer = user(user_id=890000000 + bot_id % 1000)
    bot_api.push(token, {"message": message(7, customer)})
    port = free_port()
    env = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_HTTP_PORT=str(port),
        OMNITRAIL_TELEGRAM_BOT_TOKEN=token,
        OMNITRAIL_TELEGRAM_MODE="polling",
        OMNITRAIL_TELEGRAM_API_URL=bot_api.url,
    )
    log_path = tmp_path / "connector.log"
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "omnitrail", "connector", "telegram", env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def polling_ok() -> Any:
                assert proc.returncode is None, log_path.read_text()[-3000:]
                try:
                    body = (await http.get("/readyz")).json()
                except httpx.HTTPError:
                    return None
                return body if body.get("pull") == {"telegram": "ok"} else None

            ready = await eventually(polling_ok, timeout=60, what="the connector's pull loop reporting ok")
            assert ready["checks"] == {"broker": "ok", "database": "ok"}
            paths = (await http.get("/openapi.json")).json()["paths"]
            assert not any(p.startswith("/webhooks/telegram") for p in paths)  # polling mode mounts no route

        message_id = interaction_id_for("telegram", str(bot_id), f"{customer['id']}:7")

        async def stored_row() -> bool:
            cur = await db.execute("SELECT 1 FROM interactions WHERE interaction_id = %s", (message_id,))
            return await cur.fetchone() is not None

        await eventually(stored_row, what="the polled message in the timeline")
    finally:
        proc.terminate()
        # uvicorn re-raises the SIGTERM it caught once it has shut down cleanly.
        assert await asyncio.wait_for(proc.wait(), 30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log_path.read_text()
    assert token.split(":")[1] not in log_path.read_text()
