"""Dedupe stage: drop redeliveries before they cost a database round trip.

The database's primary key on ``interaction_id`` is the authority (exactly once, whatever
is replayed); this stage removes copies inside one batch and ids this worker committed
recently, which is where provider retries and replays after a rebalance land.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.interaction import Interaction


class RecentIds:
    """Bounded memory of committed interaction ids (least recently seen evicted first)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._ids: OrderedDict[uuid.UUID, None] = OrderedDict()
        self.capacity = capacity

    def __contains__(self, interaction_id: object) -> bool:
        return interaction_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def remember(self, ids: Iterable[uuid.UUID]) -> None:
        for interaction_id in ids:
            self._ids[interaction_id] = None
            self._ids.move_to_end(interaction_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


@dataclass(frozen=True)
class Deduped:
    unique: list[Interaction]
    duplicates: int


def dedupe(batch: list[Interaction], recent: RecentIds) -> Deduped:
    """First copy of each id wins; status updates and edits are kept in order since each one counts."""
    seen: set[uuid.UUID] = set()
    unique: list[Interaction] = []
    for interaction in batch:
        iid = interaction.interaction_id
        if iid in seen or iid in recent:
            continue
        seen.add(iid)
        unique.append(interaction)
    return Deduped(unique, len(batch) - len(unique))
