"""`omnitrail import interactions FILE`, the real command against the real broker and pipeline: a JSON Lines
and a CSV file (generated here) imported twice give each row once, and the summary lists rejected lines."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from omnitrail.imports.interaction_rows import from_json
from tests.conftest import TEST_PARTITIONS
from tests.integration.stack import Stack, clean_env, eventually
from tests.livechat_payloads import EVENTS_SECRET, omnitrail_signed, v1_interaction

pytestmark = pytest.mark.integration


async def run_import(path: Path, broker: Any, database_url: str) -> tuple[int, str]:
    env = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",  # the embedded broker refuses idempotent producers
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_DATA_DIR=str(path.parent / ".omnitrail"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "omnitrail",
        "import",
        "interactions",
        str(path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode in (0, 1), err.decode()
    return proc.returncode, out.decode()


async def rows_for(db: Any, external_ids: list[str]) -> int:
    cur = await db.execute(
        "SELECT count(*) FROM interactions"
        " WHERE document->>'provider' = 'import' AND document->>'external_id' = ANY(%s)",
        (external_ids,),
    )
    return int((await cur.fetchone())[0])


async def pipeline_caught_up(stack: Stack, db: Any) -> None:
    """Wait until every partition of the interactions topic has been processed past this point:
    one sentinel per partition, each stored only after everything before it on its partition."""
    partitioner, partitions = DefaultPartitioner(), list(range(TEST_PARTITIONS))
    sentinels: dict[int, dict[str, Any]] = {}
    while len(sentinels) < TEST_PARTITIONS:
        item = v1_interaction(f"sentinel-{uuid.uuid4().hex}", f"s.{uuid.uuid4().hex[:8]}@example.pt")
        key = from_json(item, received_at=datetime.now(UTC)).routing_key()
        sentinels.setdefault(partitioner(key, partitions, partitions), item)
    body, headers = omnitrail_signed(list(sentinels.values()), EVENTS_SECRET)
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        assert (await http.post("/webhooks/events", content=body, headers=headers)).status_code == 200
    ids = [s["external_id"] for s in sentinels.values()]

    async def stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE document->>'external_id' = ANY(%s)", (ids,))
        return int((await cur.fetchone())[0]) == len(ids)

    await eventually(stored, what="the sentinels behind the import")


def jsonl_file(tmp_path: Path, tag: str) -> tuple[Path, list[str]]:
    rows: list[Any] = [
        {
            "channel": "sms",
            "account": "legacy-crm",
            "direction": "inbound",
            "occurred_at": f"2025-12-0{n + 1}T10:00:00+00:00",
            "external_id": f"{tag}-j{n}",
            "sender": {"display_name": "Rita", "identifiers": [{"kind": "phone", "value": f"+3519{tag[:8]}"}]},
            "text": f"message {n}",
        }
        for n in range(6)
    ]
    rows[3] = {**rows[3], "direction": "sideways"}  # line 4
    lines = [json.dumps(r) for r in rows]
    lines.insert(5, "{truncated")  # line 6
    path = tmp_path / f"{tag}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, [f"{tag}-j{n}" for n in (0, 1, 2, 4, 5)]


def csv_file(tmp_path: Path, tag: str) -> tuple[Path, list[str]]:
    path = tmp_path / f"{tag}.csv"
    path.write_text(
        "channel,direction,occurred_at,external_id,account,name,email,phone,subject,text,order_ref\n"
        f"email,inbound,2025-11-01T09:00:00Z,{tag}-c1,shop,Rui Costa,rui.{tag}@example.pt;RUI@work-{tag}.pt,,"
        'Refund,"Hello,\nI want a refund",A-1\n'
        f"email,outbound,2025-11-01T10:00:00Z,{tag}-c2,shop,,rui.{tag}@example.pt,,Re: Refund,Done,A-1\n"
        f"email,inbound,2025-11-02T10:00:00Z,{tag}-c3,shop,,not-an-address,,,,\n"  # line 5
        f"sms,inbound,2025-11-03T10:00:00Z,{tag}-c4,shop,,,9{tag[:8]},,ok,\n"
    )
    return path, [f"{tag}-c1", f"{tag}-c2", f"{tag}-c4"]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
async def test_importing_the_same_file_twice_gives_each_row_once_and_lists_rejected_lines(
    kind: str, tmp_path: Path, webhook_stack: Stack, broker: Any, database_url: str, db: Any
) -> None:
    tag = f"{uuid.uuid4().int % 10**8:08d}"
    path, good = jsonl_file(tmp_path, tag) if kind == "jsonl" else csv_file(tmp_path, tag)
    rejected_lines = (
        ["line 4: direction: enum", "line 6: not a JSON value"]
        if kind == "jsonl"
        else ["line 5: email value 1: not an email address"]
    )
    summaries = []
    for _ in range(2):
        status, out = await run_import(path, broker, database_url)
        assert status == 1  # some rows were rejected; the others were all taken
        summaries.append(out.splitlines())
    assert (
        summaries[0]
        == summaries[1]
        == [f"accepted {len(good)}, rejected {len(rejected_lines)}"] + [f"  {line}" for line in rejected_lines]
    )
    await pipeline_caught_up(webhook_stack, db)
    assert await rows_for(db, good) == len(good)
    cur = await db.execute(
        "SELECT count(DISTINCT contact_id) FROM interactions WHERE document->>'external_id' = ANY(%s)", (good,)
    )
    assert (await cur.fetchone())[0] == (1 if kind == "jsonl" else 2)  # the CSV holds two people
