"""``omnitrail connector email --backfill-since DATE`` as operations run it: a real process, real wiring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import free_port
from schemas.ids import interaction_id_for
from tests import email_corpus as corpus
from tests.integration.dovecot import PASSWORD, Dovecot
from tests.integration.email_source import Mailbox
from tests.integration.stack import clean_env, eventually, start_omnitrail, stop_process

pytestmark = pytest.mark.integration


def _env(
    box: Mailbox, broker: Any, database_url: str, tmp_path: Path, port: int, password: str = PASSWORD
) -> dict[str, str]:
    return clean_env(
        OMNITRAIL_HTTP_PORT=str(port),
        OMNITRAIL_DATA_DIR=str(tmp_path / ".omnitrail"),
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_IMAP_HOST="127.0.0.1",
        OMNITRAIL_IMAP_PORT=str(box.dovecot.port),
        OMNITRAIL_IMAP_USERNAME=box.user,
        OMNITRAIL_IMAP_PASSWORD=password,
        OMNITRAIL_IMAP_SSL="false",
        OMNITRAIL_IMAP_FOLDERS="INBOX",
        OMNITRAIL_IMAP_OWN_ADDRESSES=corpus.SUPPORT,
    )


async def _pull_state(port: int, prefix: str) -> tuple[int, dict[str, Any]] | None:
    """``/readyz``'s status and body once the email pull loop's state there starts with ``prefix``."""
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            answer = await http.get(f"http://127.0.0.1:{port}/readyz")
    except httpx.HTTPError:
        return None
    body = answer.json()
    return (answer.status_code, body) if body.get("pull", {}).get("email", "").startswith(prefix) else None


async def test_connector_process_ingests_a_mailbox_through_the_postgres_thread_index(
    dovecot: Dovecot, webhook_stack: Any, broker: Any, database_url: str, db: Any, tmp_path: Path
) -> None:
    box = Mailbox(dovecot)
    await asyncio.to_thread(
        dovecot.append, box.user, "INBOX", corpus.complaint(box.tag), corpus.reply_with_attachment(box.tag)
    )
    port = free_port()
    env = _env(box, broker, database_url, tmp_path, port)
    log = (tmp_path / "connector.log").open("wb")
    proc = await start_omnitrail("connector", "email", "--backfill-since", "2026-01-01", env=env, cwd=tmp_path, log=log)
    ids = [interaction_id_for("email", "", f"{m}.{box.tag}@cliente.example") for m in ("m1", "m3")]
    try:
        await eventually(lambda: _pull_state(port, "ok"), timeout=60, what="the email pull loop ok in /readyz")

        async def stored() -> list[tuple[Any, ...]] | None:
            cur = await db.execute(
                "SELECT interaction_id, thread_key FROM interactions WHERE interaction_id = ANY(%s)", (ids,)
            )
            rows = await cur.fetchall()
            return rows if len(rows) == 2 else None

        rows = await eventually(stored, what="both messages in the timeline")
        assert {r[1] for r in rows} == {str(ids[0])}  # one thread: the reply's References name the complaint
        cur = await db.execute(
            "SELECT count(*) FROM email_threads WHERE message_id = ANY(%s) AND rule <> 'placeholder'",
            ([f"m1.{box.tag}@cliente.example", f"m3.{box.tag}@cliente.example"],),
        )
        assert (await cur.fetchone())[0] == 2  # the thread memory is PostgreSQL's, shared by every process
        cur = await db.execute(
            "SELECT state FROM connector_checkpoints WHERE connector = 'email' AND account = %s", (box.user,)
        )
        assert (await cur.fetchone())[0]["last_uid"] == 2
    finally:
        await stop_process(proc)
        log.close()
    output = (tmp_path / "connector.log").read_text()
    assert "imap.backfill_done" in output
    assert box.user not in output  # the mailbox address is personal data: never logged
    assert corpus.JOAO not in output


async def test_a_stopped_pull_loop_makes_the_connector_process_not_ready(
    dovecot: Dovecot, broker: Any, database_url: str, tmp_path: Path
) -> None:
    box = Mailbox(dovecot)
    port = free_port()
    env = _env(box, broker, database_url, tmp_path, port, password="not-the-password")
    log = (tmp_path / "connector.log").open("wb")
    proc = await start_omnitrail("connector", "email", env=env, cwd=tmp_path, log=log)
    try:
        status, body = await eventually(lambda: _pull_state(port, "stopped: "), timeout=60, what="a stopped loop")
    finally:
        await stop_process(proc)
        log.close()
    assert status == 503  # it reads no mail until restarted: a load balancer or an orchestrator must see that
    assert body["degraded"] is True
    assert "pull.stopped" in (tmp_path / "connector.log").read_text()
