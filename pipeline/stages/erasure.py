"""Erasure: a replay of an erased person's old interactions must not bring their data back.

Dead-letter replay, a re-import or a mailbox resync can hand the pipeline interactions that were
erased. The erasure kept only keyed hashes of the person's identifiers (:mod:`sinks.erasure`), so
this stage hashes each interaction's customer identifiers the same way and drops the interaction
when one of them was erased at or after the moment it occurred, or when it is an erased interaction
arriving again (a webhook retry is stamped with its new arrival time, so time alone cannot
tell). Interactions that occur after the erasure pass: a person who writes again is a new
contact, with new data, by their own act. :class:`pipeline.erasure_guard.ErasureGuard` reads the
erasures this needs from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from schemas.interaction import Interaction


def identifier_hashes(interactions: list[Interaction], hasher: Callable[[str], str]) -> dict[uuid.UUID, list[str]]:
    """Interaction id -> the keyed hashes of its customer identifiers, as the erasure stored them."""
    return {i.interaction_id: [hasher(x.key) for x in i.customer_identifiers()] for i in interactions}


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
