"""What keeps a batch's writes from landing after an erasure of the same person (GDPR art. 17).

An erasure (:func:`sinks.erasure.erase`) locks the person's contacts ``FOR UPDATE``, deletes their
identifiers and interactions and keeps the contact rows with ``erased_at`` set. A batch that read the
owners while it ran still saw her identifiers on those contacts; without this fence its rows waited on
the erasure's lock and, once it committed, landed on the erased contact (the row still exists), with an
``interaction.added`` published after ``contact.erased``. So, in the batch's transaction, after the owners
are resolved and before anything is written onto a contact:

1. every contact the batch may write onto is locked ``FOR KEY SHARE`` (:func:`sinks.contact_store.hold`), but
   those the batch's own transaction created (invisible to any erasure until it commits).
   An erasure already holding one is waited for and its commit seen; one that starts later waits for the
   batch, and then erases what the batch wrote along with the rest;
2. the erasure guard reads the erased identifiers now, after that lock: a replay of an erased person's
   past (as the in-flight message now is) is dropped (:class:`Replays`: the transaction is rolled back and
   the rest of the batch written again without it);
3. if a contact the batch attaches to was erased and an identifier the decisions read on it is gone, the
   decisions are stale (:class:`ErasedMeanwhile`, retried whole: it resolves again from the owners now).
   A person who writes again after an erasure is given the same contact id back (ids are deterministic)
   with her new identifiers linked by this very transaction, so that contact's ``erased_at`` alone does
   not make a batch stale.

An ordinary batch pays one statement for this (the lock); the guard's read is the one it always made.
"""

from __future__ import annotations

import uuid

from pipeline import resolver
from pipeline.erasure_guard import ErasureGuard
from pipeline.resolver import Resolution
from schemas.errors import RetriableError
from schemas.interaction import Interaction
from sinks import contact_store
from sinks.connection import Conn


class Replays(Exception):
    """Interactions of the batch that replay an erased person's past: write the batch again without them."""

    def __init__(self, ids: set[uuid.UUID]) -> None:
        super().__init__(f"{len(ids)} replay(s) of erased people's past")
        self.ids = ids


class ErasedMeanwhile(RetriableError):
    """A contact the batch resolved to was erased after its owners were read: resolve again."""


async def check(conn: Conn, found: Resolution, interactions: list[Interaction], guard: ErasureGuard | None) -> None:
    """Raise :class:`Replays` or :class:`ErasedMeanwhile` unless the batch may write what ``found`` decided."""
    # Not the contacts this transaction created: no other transaction sees them before it commits, so no erasure
    # can be running on one (measured: locking every contact of a batch cost the worker ~12% of its throughput).
    erased = await contact_store.hold(conn, found.contacts() - found.created)
    if guard is not None and (replays := await guard.replays(conn, interactions)):
        raise Replays(replays)
    if erased and await resolver.outdated(conn, found, erased):
        raise ErasedMeanwhile("a contact of the batch was erased after its owners were read")
