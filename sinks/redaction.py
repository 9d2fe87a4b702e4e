"""An erased person's identifiers taken out of other customers' interactions (part of an erasure).

She was a second recipient of someone else's email, or in its Cc: the interaction stays in the
other customers' timelines, but her party loses its identifiers and display name, and every
spelling of her identifiers we know (an email in any case, a phone as E.164 with and without the
``+``) is replaced by :data:`MARK` in the subject, text, quoted text, HTML and metadata. The search
column is generated from the document, so it follows. Each changed interaction goes to the
timeline topic as ``interaction.redacted`` carrying the redacted interaction, one event per contact
whose timeline shows it, so consumers replace their copies.

Which interactions: those of her contacts (the row names her as first customer, or
``interaction_contacts`` links her) that another customer's contact has too; a row that named her
as its first customer is handed to the next one (the erasure deletes only the interactions that
were hers alone). A name written in free text is not redacted
(it is not an identifier, and a common name would redact other people).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from schemas import topics
from schemas.ids import event_id_for
from schemas.interaction import Interaction
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks.connection import Conn
from sinks.kafka.records import Record

MARK = "[erased]"
_TEXT_FIELDS = ("subject", "text", "quoted_text", "html")


def spellings(identifiers: Iterable[tuple[str, str]]) -> re.Pattern[str] | None:
    """One pattern for every written form of the identifiers (kind, normalized value) we look for."""
    forms: set[str] = set()
    for kind, value in identifiers:
        forms.add(value)
        if kind == "phone":
            forms.add(value.lstrip("+"))
    longest_first = sorted((f for f in forms if len(f) >= 5), key=len, reverse=True)  # never a stub
    return re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE) if longest_first else None


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MARK, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, pattern) for k, v in value.items()}
    return value


def _party(party: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    kept = [i for i in party.get("identifiers") or [] if f"{i.get('kind')}:{i.get('value')}" not in keys]
    if len(kept) == len(party.get("identifiers") or []):
        return party
    return {**party, "identifiers": kept, "display_name": None}  # the party was her: her name goes too


def redact(document: dict[str, Any], keys: set[str], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    """The document without the identifiers ``keys`` (``kind:value``) and their spellings."""
    out = dict(document)
    if isinstance(out.get("sender"), dict):
        out["sender"] = _party(out["sender"], keys)
    out["recipients"] = [_party(p, keys) for p in out.get("recipients") or []]
    if pattern is not None:
        for name in _TEXT_FIELDS:
            if isinstance(out.get(name), str):
                out[name] = pattern.sub(MARK, out[name])
        out["metadata"] = _scrub(out.get("metadata") or {}, pattern)
    return out


async def redact_linked(
    conn: Conn,
    ids: list[uuid.UUID],
    identifiers: list[tuple[str, str]],
    *,
    erasure_id: uuid.UUID,
    now: datetime,
) -> tuple[int, list[Record]]:
    """Redact the other customers' interactions linked to ``ids``; (how many changed, their events).

    Runs in the erasure's transaction, before her links are deleted."""
    cur = await conn.execute(
        # Her interactions: those whose row names her (first customer) and those linked to her; their other
        # customers: the row's contact and the links (before migration 0015 the first was linked too).
        "SELECT i.interaction_id, i.contact_id, i.document,"
        " array(SELECT c FROM (SELECT l.contact_id FROM interaction_contacts l"
        "                      WHERE l.interaction_id = i.interaction_id UNION SELECT i.contact_id) AS x (c)"
        "       WHERE c <> ALL(%(ids)s) ORDER BY c)"
        " FROM interactions i WHERE i.contact_id = ANY(%(ids)s) OR i.interaction_id IN"
        " (SELECT interaction_id FROM interaction_contacts WHERE contact_id = ANY(%(ids)s))"
        " ORDER BY i.interaction_id FOR UPDATE OF i",
        {"ids": ids},
    )
    keys = {f"{kind}:{value}" for kind, value in identifiers}
    pattern = spellings(identifiers)
    erased = set(ids)
    changed: list[tuple[uuid.UUID, uuid.UUID, dict[str, Any]]] = []
    records: list[Record] = []
    for interaction_id, owner, document, contacts in await cur.fetchall():
        if not contacts:
            continue  # hers alone: the erasure deletes it
        # The row names its first customer: when that was her, the next customer's timeline holds it now.
        changed.append((interaction_id, contacts[0] if owner in erased else owner, redact(document, keys, pattern)))
        interaction = Interaction.model_validate(changed[-1][2])
        for contact in contacts:
            event = TimelineEvent(
                event_id=event_id_for(
                    TimelineEventType.interaction_redacted.value, str(interaction_id), str(contact), str(erasure_id)
                ),
                type=TimelineEventType.interaction_redacted,
                contact_id=contact,
                occurred_at=now,
                interaction=interaction,
            )
            records.append((topics.TIMELINE, str(contact).encode(), event.model_dump_json().encode()))
    if changed:
        await conn.execute(
            "UPDATE interactions i SET contact_id = c.contact_id, document = c.document FROM"
            " (SELECT unnest(%s::uuid[]) AS interaction_id, unnest(%s::uuid[]) AS contact_id,"
            "  unnest(%s::jsonb[]) AS document) c"
            " WHERE i.interaction_id = c.interaction_id",
            ([i for i, _, _ in changed], [o for _, o, _ in changed], [orjson.dumps(d).decode() for _, _, d in changed]),
        )
        # A customer the row now names as its first needs no link (migration 0015).
        await conn.execute(
            "DELETE FROM interaction_contacts l USING unnest(%b::uuid[], %b::uuid[]) AS c (interaction_id, contact_id)"
            " WHERE l.interaction_id = c.interaction_id AND l.contact_id = c.contact_id",
            ([i for i, _, _ in changed], [o for _, o, _ in changed]),
        )
    return len(changed), records
