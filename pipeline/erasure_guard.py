"""The erasure guard: reads which of a batch's identifiers were erased, and finds the replays
:mod:`pipeline.stages.erasure` drops (the stage decides, this reads the database for it).

It reads through the batch's own transaction, after the owners were resolved and the contacts locked
(:mod:`pipeline.erasure_fence`), so an erasure that committed in the meantime is seen."""

from __future__ import annotations

import uuid

from pipeline.stages.erasure import identifier_hashes, replayed_erased
from schemas.interaction import Interaction
from sinks.connection import Conn
from sinks.erasure import IdentifierHasher, erased_rows, erased_since


class ErasureGuard:
    def __init__(self, hasher: IdentifierHasher) -> None:
        self.hasher = hasher

    async def replays(self, conn: Conn, interactions: list[Interaction]) -> set[uuid.UUID]:
        """Ids of the interactions that must not be written: replays of erased people's past.

        One statement when none of the batch's identifiers was erased (nearly every batch)."""
        if not interactions:
            return set()
        hashes = identifier_hashes(interactions, self.hasher)
        erased = await erased_since(conn, sorted({h for hs in hashes.values() for h in hs}))
        if not erased:
            return set()
        suspects = [i.interaction_id for i in interactions if any(h in erased for h in hashes[i.interaction_id])]
        return replayed_erased(interactions, hashes, erased, await erased_rows(conn, suspects))
