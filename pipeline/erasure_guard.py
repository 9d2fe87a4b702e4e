"""The erasure guard: reads which of a batch's identifiers were erased, and drops the replays
:mod:`pipeline.stages.erasure` finds (the stage decides, this reads the database for it)."""

from __future__ import annotations

import structlog
from psycopg_pool import AsyncConnectionPool

from pipeline import metrics
from pipeline.stages.erasure import identifier_hashes, replayed_erased
from schemas.interaction import Interaction
from sinks.connection import Conn
from sinks.erasure import IdentifierHasher, erased_rows, erased_since

log = structlog.get_logger(__name__)


class ErasureGuard:
    def __init__(self, pool: AsyncConnectionPool[Conn], hasher: IdentifierHasher) -> None:
        self.pool = pool
        self.hasher = hasher

    async def keep(self, interactions: list[Interaction]) -> list[Interaction]:
        """The interactions that may be written: all but replays of erased people's past."""
        if not interactions:
            return interactions
        hashes = identifier_hashes(interactions, self.hasher)
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
