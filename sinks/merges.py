"""Merges and unmerges: contact -> contact links, recorded, reversible, written in the caller's transaction.

A merge adds a link (a ``contact_merges`` row: who/what caused it, the rule, the evidence,
when); an unmerge withdraws one (``unmerged_at``/``unmerged_by``). Neither moves an identifier
or an interaction: both stay with their home contact, and ``contacts.merged_into`` is
recomputed from the active links so it always names the final survivor (one hop at read
time, also after a middle link of a chain is withdrawn). That is what makes an unmerge
restore both contacts and both timelines exactly.

The events each change publishes (through the transactional outbox) are built here too, so
the worker, the API and the importer announce merges the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import topics
from schemas.contact import Contact
from schemas.errors import RetriableError
from schemas.ids import event_id_for
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import contact_store, outbox, person, queries
from sinks.connection import Conn
from sinks.kafka.records import Record


class ContactsMoved(RetriableError):
    """A contact to merge was merged elsewhere meanwhile: redo the decision with fresh owners."""


class ErasedContact(ValueError):
    """A contact to merge was erased (and nobody wrote as that person since): there is nobody to merge."""


class NoSuchMerge(LookupError):
    """The contact has no active merge (with that id) to undo."""


@dataclass(frozen=True)
class MergeRecord:
    merge_id: uuid.UUID
    survivor: uuid.UUID
    merged: uuid.UUID


async def merge(
    conn: Conn, survivor: uuid.UUID, losers: list[uuid.UUID], *, cause: str, rule: str, evidence: dict[str, Any]
) -> list[MergeRecord]:
    """Merge live ``losers`` into live ``survivor``. Locks the contacts in id order first.

    An erased contact nobody wrote as since (:func:`sinks.contact_store.erased`) is not live: it was erased
    after the caller read it, and the decision is redone (:class:`ContactsMoved`)."""
    ids = sorted({survivor, *losers})
    cur = await conn.execute(
        "SELECT contact_id, merged_into, erased_at IS NOT NULL FROM contacts WHERE contact_id = ANY(%b)"
        " ORDER BY contact_id FOR UPDATE",
        (ids,),
    )
    rows = await cur.fetchall()
    state = {row[0]: row[1] for row in rows}
    if any(state.get(c, c) is not None for c in ids):
        raise ContactsMoved("a contact to merge was merged or removed meanwhile")
    # Read after the lock, in a statement of its own: it sees what an erasure that held one of them committed.
    if any(row[2] for row in rows) and await contact_store.erased(conn, ids):
        raise ContactsMoved("a contact to merge was erased meanwhile")
    records = []
    for loser in losers:
        if loser == survivor:
            continue
        cur = await conn.execute(
            """
            SELECT coalesce(jsonb_agg(jsonb_build_object('kind', ci.kind, 'value', ci.value)), '[]'::jsonb)
              FROM contacts c JOIN contact_identifiers ci ON ci.contact_id = c.contact_id
             WHERE person_includes(c, %s)
            """,
            (loser,),
        )
        row = await cur.fetchone()
        joined = row[0] if row else []
        await conn.execute(
            "UPDATE contacts c SET merged_into = %s, updated_at = clock_timestamp() WHERE person_includes(c, %s)",
            (survivor, loser),
        )
        merge_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO contact_merges (merge_id, survivor_id, merged_id, cause, moved_identifiers, rule, evidence)"
            " VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s::jsonb)",
            (merge_id, survivor, loser, cause, orjson.dumps(joined).decode(), rule, orjson.dumps(evidence).decode()),
        )
        records.append(MergeRecord(merge_id, survivor, loser))
    await conn.execute("UPDATE contacts SET updated_at = clock_timestamp() WHERE contact_id = %s", (survivor,))
    return records


async def unmerge(conn: Conn, contact_id: uuid.UUID, merge_id: uuid.UUID | None, *, by: str) -> MergeRecord:
    """Withdraw one active merge in ``contact_id``'s component (default: the most recent) and recompute."""
    root = await queries.resolve(conn, contact_id)
    if root is None:
        raise NoSuchMerge("no such contact")
    members = await person.contacts(conn, root, lock=True)
    cur = await conn.execute(
        """
        SELECT merge_id, merged_id, survivor_id FROM contact_merges
         WHERE unmerged_at IS NULL AND merged_id = ANY(%b) AND (%s::uuid IS NULL OR merge_id = %s)
         ORDER BY merged_at DESC LIMIT 1
        """,
        (members, merge_id, merge_id),
    )
    found = await cur.fetchone()
    if found is None:
        raise NoSuchMerge("no active merge to undo" if merge_id is None else "no such active merge in this contact")
    withdrawn = MergeRecord(found[0], root, found[1])  # the root stays the root
    await conn.execute(
        "UPDATE contact_merges SET unmerged_at = clock_timestamp(), unmerged_by = %s WHERE merge_id = %s",
        (by, withdrawn.merge_id),
    )
    await _recompute(conn, root, members)
    return withdrawn


async def _recompute(conn: Conn, root: uuid.UUID, members: list[uuid.UUID]) -> None:
    """Point every member of the component at the root of its tree of active merge links."""
    cur = await conn.execute(
        "SELECT merged_id, survivor_id FROM contact_merges WHERE unmerged_at IS NULL AND merged_id = ANY(%b)",
        (members,),
    )
    parent = {merged: survivor for merged, survivor in await cur.fetchall()}

    def top(contact: uuid.UUID) -> uuid.UUID:
        seen = set()
        while contact in parent and contact not in seen:
            seen.add(contact)
            contact = parent[contact]
        return contact

    ids = [m for m in members if m != root]
    tops = [top(m) for m in ids]
    await conn.execute(
        """
        UPDATE contacts c SET merged_into = nullif(t.top, c.contact_id), updated_at = clock_timestamp()
          FROM unnest(%b::uuid[], %b::uuid[]) AS t(id, top)
         WHERE c.contact_id = t.id AND c.merged_into IS DISTINCT FROM nullif(t.top, c.contact_id)
        """,
        (ids, tops),
    )


def _timeline(
    kind: TimelineEventType, record: MergeRecord, key: uuid.UUID, other: uuid.UUID, c: Contact | None
) -> Record:
    event = TimelineEvent(
        event_id=event_id_for(kind.value, str(key), str(record.merge_id)),
        type=kind,
        contact_id=key,
        occurred_at=datetime.now(UTC),
        contact=c,
        merge_id=record.merge_id,
        related_contact_id=other,
    )
    return topics.TIMELINE, str(key).encode(), event.model_dump_json().encode()


def merged_events(records: list[MergeRecord], snapshots: dict[uuid.UUID, Contact]) -> list[Record]:
    """``contact.merged`` per merge keyed by the survivor; a tombstone for each merged-away contact."""
    out = [
        _timeline(TimelineEventType.contact_merged, r, r.survivor, r.merged, snapshots.get(r.survivor)) for r in records
    ]
    return out + [(topics.CONTACTS, str(r.merged).encode(), None) for r in records]


def unmerged_events(record: MergeRecord, snapshots: dict[uuid.UUID, Contact]) -> list[Record]:
    """``contact.unmerged`` to both contacts' timelines; both snapshots, so the restored contact is live again."""
    survivor = record.survivor
    out = [
        _timeline(TimelineEventType.contact_unmerged, record, survivor, record.merged, snapshots.get(survivor)),
        _timeline(TimelineEventType.contact_unmerged, record, record.merged, survivor, snapshots.get(record.merged)),
    ]
    return out + [
        (topics.CONTACTS, str(c.contact_id).encode(), c.model_dump_json().encode())
        for c in snapshots.values()
        if c.merged_into is None
    ]


class SameContact(ValueError):
    """Both ids already resolve to one live contact."""


async def _survivor(conn: Conn, contact_id: uuid.UUID) -> uuid.UUID:
    survivor = await queries.resolve(conn, contact_id)
    if survivor is None:
        raise NoSuchMerge(f"no such contact {contact_id}")
    return survivor


async def merge_pair(
    conn: Conn,
    target: uuid.UUID,
    other: uuid.UUID,
    *,
    cause: str,
    rule: str,
    evidence: dict[str, Any],
    older_survives: bool = False,
) -> MergeRecord:
    """Merge ``other``'s live contact into ``target``'s (staff decided), events in the outbox.

    ``older_survives``: whichever live contact is older survives instead (review items).
    :class:`ErasedContact` if either is an erased contact nobody wrote as since.
    """
    survivor, merged = await _survivor(conn, target), await _survivor(conn, other)
    if survivor == merged:
        raise SameContact("these contacts are already one")
    if await contact_store.erased(conn, [survivor, merged]):
        raise ErasedContact("an erased contact cannot be merged")
    if older_survives:
        cur = await conn.execute(
            "SELECT contact_id FROM contacts WHERE contact_id = ANY(%b) ORDER BY created_at, contact_id LIMIT 1",
            ([survivor, merged],),
        )
        row = await cur.fetchone()
        if row is not None and row[0] == merged:
            survivor, merged = merged, survivor
    [record] = await merge(conn, survivor, [merged], cause=cause, rule=rule, evidence=evidence)
    snaps = {c.contact_id: c for c in await contact_store.snapshots(conn, [survivor])}
    snapshot: list[Record] = [(topics.CONTACTS, str(survivor).encode(), snaps[survivor].model_dump_json().encode())]
    await outbox.append(conn, merged_events([record], snaps) + snapshot)
    return record


async def unmerge_and_announce(
    conn: Conn, contact_id: uuid.UUID, merge_id: uuid.UUID | None, *, by: str
) -> MergeRecord:
    """:func:`unmerge`, with ``contact.unmerged`` and both snapshots in the outbox."""
    record = await unmerge(conn, contact_id, merge_id, by=by)
    snaps = {c.contact_id: c for c in await contact_store.snapshots(conn, [record.survivor, record.merged])}
    await outbox.append(conn, unmerged_events(record, snaps))
    return record


async def separated(conn: Conn, contacts: set[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
    """Pairs of these live contacts that staff separated (a withdrawn merge between their components).

    Evidence that once merged them and was undone must not merge them again by itself.
    """
    if len(contacts) < 2:
        return set()
    ids = sorted(contacts)
    cur = await conn.execute(
        """
        SELECT DISTINCT coalesce(a.merged_into, a.contact_id), coalesce(b.merged_into, b.contact_id)
          FROM contact_merges m
          JOIN contacts a ON a.contact_id = m.merged_id
          JOIN contacts b ON b.contact_id = m.survivor_id
         WHERE m.unmerged_at IS NOT NULL
           AND coalesce(a.merged_into, a.contact_id) = ANY(%b) AND coalesce(b.merged_into, b.contact_id) = ANY(%b)
        """,
        (ids, ids),
    )
    return {frozenset(row) for row in await cur.fetchall() if row[0] != row[1]}
