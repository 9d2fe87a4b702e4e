"""Opens identity review items for what a resolution just linked: phone pitfalls and weak evidence.

Runs in the batch's transaction, after :func:`pipeline.resolver.resolve`, with three lookups
per batch at most (exact variant keys, local parts, names), only for identifiers and contacts
that are new in this batch, so a steady stream of known customers costs nothing here.
"""

from __future__ import annotations

import uuid

from pipeline.resolver import Resolution, owners_of
from pipeline.stages.policy import Policy
from pipeline.stages.review import full_name, probes, signature_probes, unverified_probes
from schemas.identifiers import Identifier
from sinks import review_store
from sinks.connection import Conn
from sinks.review_store import Proposal


async def propose(
    conn: Conn,
    found: Resolution,
    policy: Policy,
    *,
    emails: list[tuple[uuid.UUID, str]] | None = None,
    unverified: list[tuple[uuid.UUID, Identifier]] | None = None,
) -> int:
    """``emails``: (contact, body) of new inbound emails, whose signatures may name another contact's phone;
    ``unverified``: (contact, identifier) given without proof by a party of a new interaction."""
    wanted = probes(found.new_links, policy) + signature_probes(emails or [], policy)
    wanted += unverified_probes(unverified or [], policy)
    proposals: list[Proposal] = []
    exact = [p for p in wanted if p.rule != "email_local_part"]
    if exact:
        owners = await owners_of(conn, {p.key for p in exact})
        for p in exact:
            if p.key in owners:
                other = found.survivor(owners[p.key].survivor)
                proposals.append(Proposal(p.contact_id, other, p.rule, p.evidence))
    local = [p for p in wanted if p.rule == "email_local_part"]
    if local:
        by_local = await review_store.local_part_owners(conn, sorted({p.key for p in local}))
        for p in local:
            for value, contact in by_local.get(p.key, []):
                if f"email:{value}" != p.evidence["new"]:
                    evidence = {**p.evidence, "existing": f"email:{value}"}
                    proposals.append(Proposal(p.contact_id, found.survivor(contact), p.rule, evidence))
    names: dict[str, uuid.UUID] = {}
    for d in found.decisions:
        name = full_name(d.person.display_name)
        if name and d.contact_id in found.created:
            names[name] = found.survivor(d.contact_id)
    if names:
        for name, contacts in (await review_store.same_name(conn, sorted(names))).items():
            proposals += [Proposal(names[name], other, "same_name", {"name": name}) for other in contacts]
    proposals = [p for p in proposals if p.contact != p.other]
    return await review_store.open_items(conn, proposals)
