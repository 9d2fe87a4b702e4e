"""Consent history: the latest row per purpose decides, across contacts merged into a survivor."""

from __future__ import annotations

import uuid

import pytest

from sinks import consent
from sinks.connection import Conn

pytestmark = pytest.mark.integration


async def _contact(db: Conn, merged_into: uuid.UUID | None = None) -> uuid.UUID:
    cid = uuid.uuid4()
    await db.execute("INSERT INTO contacts (contact_id, merged_into) VALUES (%s, %s)", (cid, merged_into))
    return cid


async def test_latest_row_per_purpose_decides(db: Conn) -> None:
    ana, rui, silent = await _contact(db), await _contact(db), await _contact(db)
    await consent.record(db, ana, consent.PROFILING, granted=False, source="api")
    await consent.record(db, rui, consent.PROFILING, granted=False, source="api")
    await consent.record(db, rui, consent.PROFILING, granted=True, source="console", recorded_by="agent-1")
    await consent.record(db, silent, consent.MARKETING, granted=False, source="import")

    assert await consent.objecting(db, [ana, rui, silent], consent.PROFILING) == {ana}
    assert await consent.objecting(db, [ana, rui, silent], consent.MARKETING) == {silent}
    assert await consent.objecting(db, [], consent.PROFILING) == set()


async def test_objection_recorded_on_a_merged_away_contact_counts_for_the_survivor(db: Conn) -> None:
    survivor = await _contact(db)
    merged = await _contact(db, merged_into=survivor)
    await consent.record(db, merged, consent.PROFILING, granted=False, source="api")
    assert await consent.objecting(db, [survivor], consent.PROFILING) == {survivor}
