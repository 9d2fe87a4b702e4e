"""Erasure guard: a replay of an erased person's old interactions must not bring their data back.

Dead-letter replay, a re-import or a mailbox resync can hand the pipeline interactions that were
erased. The erasure kept only keyed hashes of the person's identifiers (:mod:`sinks.erasure`), so
this stage hashes each interaction's customer identifiers the same way and drops the interaction
when one of them was erased at or after the moment it occurred, or when it is an erased interaction
arriving again (a webhook retry is stamped with its new arrival time, so time alone cannot
tell). Interactions that occur after the erasure pass: a person who writes again is a new
contact, with new data, by their own act.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pipeline import metrics
from schemas.interaction import Interaction
from sinks.erasure import IdentifierHasher, erased_rows, erased_since

log = structlog.get_logger(__name__)
Conn = AsyncConnection[tuple[Any, ...]]


def replayed_erased(
    interactions: list[Interaction],
    hashes: dict[uuid.UUID, list[str]],
    erased: dict[str, datetime],
    erased_rows: set[uuid.UUID],
) -> set[uuid.UUID]:
    """Ids of the interactions of erased identifiers that predate the erasure or were erased themselves."""
    return {
        i.interaction_id
        for i in interactions
        if any(
            h in erased and (i.occurred_at <= erased[h] or i.interaction_id in erased_rows)
            for h in hashes[i.interaction_id]
        )
    }


class ErasureGuard:
    def __init__(self, pool: AsyncConnectionPool[Conn], hasher: IdentifierHasher) -> None:
        self.pool = pool
        self.hasher = hasher

    async def keep(self, interactions: list[Interaction]) -> list[Interaction]:
        """The interactions that may be written: all but replays of erased people's past."""
        if not interactions:
            return interactions
        hashes = {i.interaction_id: [self.hasher(x.key) for x in i.customer_identifiers()] for i in interactions}
        async with self.pool.connection() as conn:
            erased = await erased_since(conn, sorted({h for hs in hashes.values() for h in hs}))
            if not erased:
                return interactions
            suspects = [i.interaction_id for i in interactions if any(h in erased for h in hashes[i.interaction_id])]
            rows = await erased_rows(conn, suspects)
        dropped = replayed_erased(interactions, hashes, erased, rows)
        if dropped:
            metrics.PROCESSED.labels("erased").inc(len(dropped))
            log.info("pipeline.erased_replay_dropped", count=len(dropped))
        return [i for i in interactions if i.interaction_id not in dropped]
