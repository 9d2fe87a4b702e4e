"""Identity resolution inside one PostgreSQL transaction: the pure stage plus its reads and writes.

Shared by the worker (claims = customer parties of a batch of interactions) and the contact
importer (claims = imported records), so an imported record that carries identifiers of two
contacts merges them exactly as an interaction would. A constant number of round trips per
batch, whatever its size: owners are read, contacts created and identifiers linked with one
statement each.

Concurrency (several workers, one person): contact ids are deterministic and identifier links
are claimed by the primary key, so two transactions racing for a new person meet in the
database; the loser re-reads the owners (READ COMMITTED sees the winner's commit), gives up any
contact it created for nothing (:func:`sinks.contact_store.fold`) and merges what really spans
two contacts. Deadlocks and a contact merged meanwhile abort the transaction; the caller
retries it whole (:mod:`pipeline.retry`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.stages.identity import (
    EXACT,
    Claim,
    Decision,
    Owner,
    Person,
    decide,
    disputed,
    group_by_person,
    homes,
    link_grounds,
    shared_keys,
)
from pipeline.stages.policy import Policy
from pipeline.stages.timeline import Encoded, build_events
from schemas.contact import Contact
from schemas.identifiers import Identifier
from schemas.interaction import Interaction
from sinks import contact_store, merges, review_store
from sinks.connection import Conn
from sinks.kafka.records import Record
from sinks.merges import MergeRecord
from sinks.review_store import Proposal


@dataclass
class Resolution:
    decisions: list[Decision]
    #: Contacts this transaction created (and kept).
    created: set[uuid.UUID]
    merges: list[MergeRecord]
    #: Claim ref -> the home contacts it attaches to, first claim's first home first.
    attached: dict[int, list[uuid.UUID]] = field(default_factory=dict)
    #: Any contact id -> its live survivor after this transaction.
    survivor_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    #: Live contacts whose snapshot changed (created, merged into, new identifiers).
    changed: set[uuid.UUID] = field(default_factory=set)
    #: Identifiers this transaction linked (nobody owned them before), by their survivor.
    new_links: list[tuple[uuid.UUID, Identifier]] = field(default_factory=list)
    #: Identifier key -> its home contact, as the decisions above read it (this transaction's own links included).
    homes: dict[str, uuid.UUID] = field(default_factory=dict)

    def survivor(self, contact_id: uuid.UUID) -> uuid.UUID:
        return self.survivor_of.get(contact_id, contact_id)

    def contacts(self) -> set[uuid.UUID]:
        """Every contact this resolution read, made or attaches to: what the batch may write onto."""
        found = set(self.survivor_of) | set(self.survivor_of.values())
        found.update(c for homes in self.attached.values() for c in homes)
        return found


async def owners_of(conn: Conn, keys: set[str]) -> dict[str, Owner]:
    rows = await contact_store.owners(conn, keys)
    return {o.key: Owner(*o[1:]) for o in rows}


async def resolve(
    conn: Conn, claims: list[Claim], policy: Policy, *, source: str, cause: Callable[[Person], str]
) -> Resolution:
    keys = {i.key for c in claims for i in c.identifiers}
    owners = await owners_of(conn, keys)
    shared = shared_keys(owners, policy)
    claims, set_aside = disputed(claims, owners, policy, shared)
    people = group_by_person(claims, policy, shared)
    decisions = decide(people, owners)
    wanted = [(d.contact_id, d.person.display_name) for d in decisions if d.is_new]
    births = await contact_store.create_contacts(conn, wanted)
    created = set(births)
    links = [(i, d.contact_id) for d in decisions for i in d.new_links]
    claimed = await _link(conn, decisions, source)
    linked = {i.key: i for d in decisions for i in d.new_links}
    fresh_of = {id(d.person): d.contact_id for d in decisions if d.contact_id in created and d.person.keys}
    if claimed == len(links) and len(births) == len(wanted):
        # Nobody raced us: every contact and link is ours, so the owners are what we just wrote. Deciding
        # again over them would give every person the contact and merges it was given (each new key now
        # belongs to that contact, born with the person's other owners or alone): the decisions stand.
        owners = {**owners, **_own_links(links, births, owners)}
    else:  # another transaction claimed some first (READ COMMITTED sees its commit): read who owns what
        owners = await owners_of(conn, keys)
        decisions = decide(people, owners)
        if await _fold_lost_races(conn, decisions, fresh_of):
            owners = await owners_of(conn, keys)
            decisions = decide(people, owners)
    created &= {d.contact_id for d in decisions}  # minus the ones given up

    born: dict[uuid.UUID, datetime] = {o.survivor: o.created_at for o in owners.values()}
    remap: dict[uuid.UUID, uuid.UUID] = {}

    def final(contact: uuid.UUID) -> uuid.UUID:
        while remap and contact in remap:  # no merge in the batch (the common case): no lookup at all
            contact = remap[contact]
        return contact

    records: list[MergeRecord] = []
    apart = await merges.separated(conn, {c for d in decisions if d.merge_from for c in (d.contact_id, *d.merge_from)})
    held: list[Proposal] = []
    for d in decisions:
        group = sorted({final(c) for c in (d.contact_id, *d.merge_from)}, key=lambda c: (born.get(c), c))
        if len(group) < 2:
            continue
        kept = [c for c in group[1:] if frozenset((group[0], c)) not in apart]
        # Separated by an unmerge: staff decide again instead of the evidence merging them back.
        evidence = {"identifiers": sorted(d.person.merging)}
        held += [Proposal(group[0], c, "separated_by_unmerge", evidence) for c in group[1:] if c not in kept]
        group = [group[0], *kept]
        if len(group) < 2:
            continue
        done = await merges.merge(conn, group[0], group[1:], cause=cause(d.person), rule=EXACT, evidence=evidence)
        await contact_store.touch(conn, d.person.merging, by=len(done))
        for record in done:
            remap[record.merged] = record.survivor
        records += done
    # After the merges: a notice's contacts merged away in this batch are named by their survivors.
    held += [r for notice, named in set_aside for r in _reviews_of(notice, [final(c) for c in named], owners)]

    await review_store.open_items(conn, held)
    resolution = Resolution(decisions, created, records)
    attached = resolution.attached
    for d in decisions:
        for claim in d.person.claims:
            found = homes(d, claim, owners, shared, policy)
            ordered = sorted(found) if len(found) > 1 else list(found)
            have = attached.get(claim.ref)
            if have is None:  # the first claim of its interaction (most interactions have one)
                attached[claim.ref] = ordered
            else:
                have += [h for h in ordered if h not in have]
    resolution.homes = {key: owner.home for key, owner in owners.items()}
    for owner in owners.values():
        resolution.survivor_of[owner.home] = resolution.survivor_of[owner.survivor] = final(owner.survivor)
    for d in decisions:
        resolution.survivor_of.setdefault(d.contact_id, final(d.contact_id))
    resolution.changed = {resolution.survivor(c) for c in created} | {r.survivor for r in records}
    resolution.changed |= {resolution.survivor(owners[k].survivor) for k in linked if k in owners}
    resolution.new_links = [(resolution.survivor(owners[k].survivor), i) for k, i in linked.items() if k in owners]
    await contact_store.name_if_unnamed(
        conn, {resolution.survivor(d.contact_id): d.person.display_name for d in decisions if d.person.display_name}
    )
    return resolution


async def outdated(conn: Conn, found: Resolution, contacts: set[uuid.UUID]) -> bool:
    """Whether an identifier ``found`` read on one of ``contacts`` has left it since: a transaction that
    committed after the owners were read (an erasure) took it away, and the decisions must be made again."""
    keys = {key for key, home in found.homes.items() if home in contacts}
    if not keys:
        return False
    now = {row.key: row.home for row in await contact_store.owners(conn, keys)}
    return any(now.get(key) != found.homes[key] for key in keys)


def _reviews_of(notice: Claim, contacts: list[uuid.UUID], owners: dict[str, Owner]) -> list[Proposal]:
    """The identity reviews a disputed notice opens instead of merging, with the notice (its event, interaction
    and time) and which contact owns each address it names as the evidence."""
    named = {i.key: str(owners[i.key].survivor) if i.key in owners else None for i in notice.identifiers}
    evidence = {**dict(notice.evidence), "identifiers": named}
    return [Proposal(contacts[0], other, notice.rule, evidence) for other in contacts[1:]]


async def _link(conn: Conn, decisions: list[Decision], source: str) -> int:
    """Link each decision's new identifiers with the rule and evidence that justify them: one statement per
    distinct grounds (one for a batch of plain interactions)."""
    grouped: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[Identifier, uuid.UUID]]] = {}
    for d in decisions:
        for identifier in d.new_links:
            grouped.setdefault(link_grounds(d.person, identifier), []).append((identifier, d.contact_id))
    claimed = 0
    for (rule, evidence), links in grouped.items():
        claimed += await contact_store.link(conn, links, rule=rule, source=source, evidence=dict(evidence) or None)
    return claimed


def _own_links(
    links: list[tuple[Identifier, uuid.UUID]], births: dict[uuid.UUID, datetime], owners: dict[str, Owner]
) -> dict[str, Owner]:
    """The owner rows :func:`owners_of` would read back for links this transaction just made."""
    born = {o.survivor: o.created_at for o in owners.values()} | births
    return {i.key: Owner(contact, contact, born[contact]) for i, contact in links}


async def _fold_lost_races(conn: Conn, decisions: list[Decision], fresh_of: dict[int, uuid.UUID]) -> bool:
    """Give up contacts this transaction created for a person another transaction had already given one."""
    folded = False
    for d in decisions:
        fresh = fresh_of.get(id(d.person))
        if fresh is not None and fresh != d.contact_id:
            await contact_store.fold(conn, fresh, d.contact_id)
            folded = True
    return folded


def events(
    found: Resolution,
    snapshots: dict[uuid.UUID, Contact],
    *,
    added: list[tuple[uuid.UUID, Encoded]],
    updated: list[tuple[uuid.UUID, Interaction]],
) -> list[Record]:
    """The outbox records of a resolved batch: contact.created, then contact.merged (+ tombstones), then
    the interaction events, then the snapshots of every live contact that changed."""
    built = build_events(
        added=added,
        updated=updated,
        created=[snapshots[c] for c in sorted(found.created) if c in snapshots],
        snapshots=[s for s in snapshots.values() if s.merged_into is None],
    )
    records: list[Record] = list(built)
    created = sum(1 for c in found.created if c in snapshots)
    records[created:created] = merges.merged_events(found.merges, snapshots)
    return records
