"""Identity stage: which contact each interaction belongs to, decided from normalized identifiers.

Pure: it takes the batch and the current owners of its identifiers (read by the sink)
and returns decisions. Interactions in one batch that share any identifier form one
person (union-find), so a person's first SMS and first email in the same batch do not
become two contacts. When a person's identifiers belong to several contacts, the oldest
survives and the others are merged into it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from schemas.identifiers import Identifier
from schemas.ids import contact_id_for
from schemas.interaction import Interaction


@dataclass(frozen=True)
class Owner:
    contact_id: uuid.UUID
    created_at: datetime


@dataclass
class Person:
    identifiers: dict[str, Identifier]
    interactions: list[Interaction] = field(default_factory=list)

    @property
    def display_name(self) -> str | None:
        for interaction in self.interactions:
            name = interaction.customer_display_name()
            if name:
                return name
        return None


@dataclass(frozen=True)
class Decision:
    person: Person
    contact_id: uuid.UUID
    is_new: bool
    #: Identifiers of the person that no contact owns yet.
    new_links: list[Identifier]
    #: Other contacts the person's identifiers belong to; they merge into ``contact_id``.
    merge_from: list[uuid.UUID]


def group_by_person(interactions: list[Interaction]) -> list[Person]:
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent[root] != root:
            root = parent[root]
        while parent[key] != root:  # path compression
            parent[key], key = root, parent[key]
        return root

    for interaction in interactions:
        keys = [i.key for i in interaction.customer_identifiers()]
        for key in keys:
            parent.setdefault(key, key)
        for key in keys[1:]:
            a, b = find(keys[0]), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)

    people: dict[str, Person] = {}
    for interaction in interactions:
        identifiers = interaction.customer_identifiers()
        root = find(identifiers[0].key)
        person = people.setdefault(root, Person(identifiers={}))
        person.interactions.append(interaction)
        for identifier in identifiers:
            person.identifiers.setdefault(identifier.key, identifier)
    return list(people.values())


def decide(people: list[Person], owners: dict[str, Owner]) -> list[Decision]:
    decisions = []
    for person in people:
        owning = {owners[k].contact_id: owners[k] for k in person.identifiers if k in owners}
        if owning:
            ranked = sorted(owning.values(), key=lambda o: (o.created_at, o.contact_id))
            contact_id, is_new = ranked[0].contact_id, False
            merge_from = [o.contact_id for o in ranked[1:]]
        else:
            contact_id, is_new, merge_from = contact_id_for(min(person.identifiers)), True, []
        new_links = [i for k, i in sorted(person.identifiers.items()) if k not in owners]
        decisions.append(Decision(person, contact_id, is_new, new_links, merge_from))
    return decisions
