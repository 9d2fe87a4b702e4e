"""Identity stage: which contact each claim belongs to, decided from normalized identifiers.

A *claim* is what one source says about one person: one customer party of an interaction, or
one imported record. Identifiers are joined only within a claim (one party is one person: two
customers on the same email are two people). Claims in one batch that share a merging
identifier form one person (union-find), so a person's first SMS and first email in the same
batch do not become two contacts. When a person's merging identifiers belong to several
contacts, the oldest survives and the others merge into it. Weak identifiers (shared, at the
cap, of a kind that never merges) join no claims: a claim made only of weak ones meets only
claims carrying exactly the same ones, so where it lands never depends on what shares its batch.

Pure: it takes the claims and the current owners of their identifiers (read by the sink) and
returns decisions; the policy (:mod:`pipeline.stages.policy`) says which identifiers count.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier
from schemas.ids import contact_id_for
from schemas.interaction import Interaction, InteractionKind

#: The rule of identifiers one party carried together; any other rule is a provider's identity notice
#: (``_grounds``: ``whatsapp:user_changed_number``), which may move a person but never proves two are one.
EXACT = "exact"


class Claim(NamedTuple):
    """Identifiers one source attributes to one person. ``ref`` is the caller's index (interaction/record).

    A tuple, one per customer party of every batch: a frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__``, which cost the worker ~1% of its CPU for claims and decisions."""

    ref: int
    identifiers: tuple[Identifier, ...]
    display_name: str | None = None
    #: Contact key when no identifier is usable (only blocked ones): the conversation itself.
    fallback_key: str | None = None
    #: Why these identifiers are one person, recorded on each link this claim makes: ``exact`` (one party
    #: carried them), or a provider's notice (``whatsapp:user_changed_number``) with its evidence.
    rule: str = EXACT
    evidence: tuple[tuple[str, str], ...] = ()


#: Compared for every claim of every batch: a global, not a lookup on the enum class (see schemas.interaction).
_IDENTITY = InteractionKind.identity


class Owner(NamedTuple):  # a tuple: one per identifier of every batch
    home: uuid.UUID  # the contact the identifier is linked to (never moves)
    survivor: uuid.UUID  # the live contact that home resolves to (one hop)
    created_at: datetime  # the survivor's
    shared: bool = False
    touched: int = 1


@dataclass
class Person:
    merging: dict[str, Identifier] = field(default_factory=dict)
    weak: dict[str, Identifier] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    fallback_key: str | None = None

    @property
    def display_name(self) -> str | None:
        return next((c.display_name for c in self.claims if c.display_name), None)

    @property
    def keys(self) -> set[str]:
        return set(self.merging) | set(self.weak)


class Decision(NamedTuple):  # a tuple, as Claim: one per person, twice per batch
    person: Person
    contact_id: uuid.UUID
    is_new: bool
    #: Identifiers of the person that no contact owns yet.
    new_links: list[Identifier]
    #: Other live contacts the person's merging identifiers belong to; they merge into ``contact_id``.
    merge_from: list[uuid.UUID]


def claims_of(interactions: Iterable[Interaction], policy: Policy) -> list[Claim]:
    """One claim per customer party with a usable identifier; a conversation-keyed claim when none has one."""
    claims: list[Claim] = []
    for ref, interaction in enumerate(interactions):
        parties = interaction.customer_parties()
        rule, evidence = _grounds(interaction)
        found = [
            Claim(ref, tuple(usable), p.display_name, None, rule, evidence)  # positional: one per party
            for p in parties
            if (usable := policy.usable(p.identifiers))
        ]
        if not found:
            key = interaction.conversation_key()
            found = [Claim(ref, (), interaction.customer_display_name(), fallback_key=key)]
        claims += found
    return claims


def _grounds(interaction: Interaction) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The rule and evidence of an interaction's links: a provider's identity notice names itself."""
    if interaction.kind is not _IDENTITY:
        return EXACT, ()
    event = str(interaction.metadata.get("event") or "identity")
    return f"{interaction.channel.value}:{event}", (
        ("event", event),
        ("interaction_id", str(interaction.interaction_id)),
        ("occurred_at", interaction.occurred_at.isoformat()),
    )


def link_grounds(person: Person, identifier: Identifier) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Why ``identifier`` is linked to the person: the first claim carrying it that has a rule of its own
    (a notice), else ``exact``."""
    carrying = [c for c in person.claims if identifier in c.identifiers]
    chosen = next((c for c in carrying if c.rule != EXACT), None)
    return (chosen.rule, chosen.evidence) if chosen else (EXACT, ())


def disputed(
    claims: list[Claim], owners: dict[str, Owner], policy: Policy, shared: set[str]
) -> tuple[list[Claim], list[tuple[Claim, list[uuid.UUID]]]]:
    """The claims to resolve, and the provider notices set aside with the live contacts each names, oldest first.

    A notice (a number change) whose merging addresses belong to two or more contacts moved someone onto an
    address another contact owns: a number given to someone else since, a mistake, a hijack. It is no proof
    that they are one person, so it merges nobody and links nothing: staff decide (an identity review).

    Only addresses that may merge (``shared``: :func:`shared_keys`) count, so a review is only opened where the
    notice, taken as proof, would have merged: an address marked shared, at the merge cap or of a kind that
    never merges could merge nobody. A notice naming one is resolved like a party carrying the same addresses:
    that address stays with its contact, linked to nobody else.
    """
    if all(claim.rule == EXACT for claim in claims):  # no notice: nearly every batch
        return claims, []
    kept: list[Claim] = []
    set_aside: list[tuple[Claim, list[uuid.UUID]]] = []
    for claim in claims:
        contacts = [] if claim.rule == EXACT else _owning(claim, owners, policy, shared)
        if len(contacts) > 1:
            set_aside.append((claim, contacts))
        else:
            kept.append(claim)
    return kept, set_aside


def _owning(claim: Claim, owners: dict[str, Owner], policy: Policy, shared: set[str]) -> list[uuid.UUID]:
    """The live contacts owning the claim's merging identifiers, oldest first."""
    named = {
        owners[i.key].survivor: owners[i.key]
        for i in claim.identifiers
        if i.key in owners and policy.may_merge(i, shared)
    }
    return [o.survivor for o in sorted(named.values(), key=_age)]


def shared_keys(owners: dict[str, Owner], policy: Policy) -> set[str]:
    """Keys the database marks shared or that already joined as many contacts as the cap allows."""
    return {k for k, o in owners.items() if o.shared or o.touched >= policy.max_contacts_per_identifier}


#: Joins the keys of a claim made only of weak identifiers into its one node (no key holds it).
_WEAK_SET = "\x00"


def group_by_person(claims: list[Claim], policy: Policy, shared: set[str] | None = None) -> list[Person]:
    shared = shared or set()
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent[root] != root:
            root = parent[root]
        while parent[key] != root:  # path compression
            parent[key], key = root, parent[key]
        return root

    def node(claim: Claim) -> str:
        merging = sorted(i.key for i in claim.identifiers if policy.may_merge(i, shared))
        # Weak identifiers join nobody: a claim with only weak ones is one node keyed by all of them, so it
        # meets only claims carrying exactly those (two claims made only of one shared phone still meet at
        # that phone's contact) and is decided as it would be alone. Joined, a party carrying mom's and
        # dad's shared addresses would pull every claim on either into one person, decided as mom's.
        weak = sorted(i.key for i in claim.identifiers) if not merging else []
        keys = merging or ([_WEAK_SET.join(weak)] if weak else [f"~{claim.fallback_key}"])
        for key in keys:
            parent.setdefault(key, key)
        for key in keys[1:]:
            a, b = find(keys[0]), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
        return keys[0]

    roots = [node(claim) for claim in claims]
    people: dict[str, Person] = {}
    for claim, first in zip(claims, roots, strict=True):
        root = find(first)
        person = people.get(root)
        if person is None:  # not setdefault: a Person (three containers) per claim was most of this loop
            person = people[root] = Person()
        person.claims.append(claim)
        if claim.fallback_key and not claim.identifiers:
            person.fallback_key = claim.fallback_key
        for identifier in claim.identifiers:
            if policy.may_merge(identifier, shared):
                person.merging.setdefault(identifier.key, identifier)
    for person in people.values():
        for claim in person.claims:
            for identifier in claim.identifiers:
                if identifier.key not in person.merging:
                    person.weak.setdefault(identifier.key, identifier)
    return list(people.values())


def decide(people: list[Person], owners: dict[str, Owner]) -> list[Decision]:
    decisions = []
    for person in people:
        merging, weak = person.merging, person.weak
        owning = {o.survivor: o for k in merging if (o := owners.get(k)) is not None}
        merge_from: list[uuid.UUID] = []
        if len(owning) == 1:  # most people: one contact already owns their identifiers
            contact_id, is_new = next(iter(owning)), False
        elif owning:
            ranked = sorted(owning.values(), key=_age)
            contact_id, is_new = ranked[0].survivor, False
            merge_from = [o.survivor for o in ranked[1:]]
        elif not merging and (weak_owning := [o for k in weak if (o := owners.get(k)) is not None]):
            # Only weak identifiers (e.g. a shared phone alone): its contact, merging nobody. A person
            # who also has identifiers of their own gets their own contact instead.
            contact_id, is_new = min(weak_owning, key=_age).survivor, False
        else:
            # From the person's own identifiers: a weak one may be the basis of someone else's contact id.
            own = merging or weak
            basis = min(own) if own else f"~{person.fallback_key}"
            contact_id, is_new = contact_id_for(basis), True
        keyed = {**weak, **merging} if weak else merging
        new_links = [i for k, i in (sorted(keyed.items()) if len(keyed) > 1 else keyed.items()) if k not in owners]
        decisions.append(Decision(person, contact_id, is_new, new_links, merge_from))
    return decisions


def _age(owner: Owner) -> tuple[datetime, uuid.UUID]:
    """Oldest first; the id breaks ties."""
    return owner.created_at, owner.survivor


def homes(
    decision: Decision, claim: Claim, owners: dict[str, Owner], shared: set[str], policy: Policy
) -> set[uuid.UUID]:
    """The contacts one claim attaches to: the homes of its merging identifiers, else of its weak ones.

    Homes, not survivors: after an unmerge each interaction is back with the contact whose
    identifiers it carried.
    """
    merging = {owners[i.key].home for i in claim.identifiers if policy.may_merge(i, shared) and i.key in owners}
    if merging:
        return merging
    weak = {
        owners[i.key].home
        for i in claim.identifiers
        if i.key in owners and owners[i.key].survivor == decision.contact_id
    }
    return weak or {decision.contact_id}
