"""An erased person's identifiers taken out of other customers' interactions (part of an erasure).

She was a second recipient of someone else's email, or in its Cc: the interaction stays in the
other customers' timelines, but her party loses its identifiers and display name, and every
spelling of her identifiers we know is replaced by :data:`MARK` everywhere else in the document
(every field but the structural ones, :data:`schemas.interaction_fields.STRUCTURE`: subject, texts,
HTML, attachment names, location, contact cards, thread key, metadata, the other parties' names). An
email matches in any case; a phone as E.164, with or without the ``+``, ``00``-prefixed, in its
national form, and each of these spaced or dashed (:func:`spellings`). The search column is generated
from the document, so it follows. Each changed interaction goes to the timeline topic as
``interaction.redacted`` carrying the redacted interaction, one event per contact whose timeline
shows it, so consumers replace their copies.

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
import phonenumbers

from schemas import topics
from schemas.ids import event_id_for
from schemas.interaction import Interaction
from schemas.interaction_fields import STRUCTURE
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks.connection import Conn
from sinks.kafka.records import Record

MARK = "[erased]"
#: What may stand between two digits of a written phone number: a space, dot, dash, slash or bracket, at most
#: two of them (``+351 912 345 678``, ``(+351) 912-345-678``). Bounded, so matching stays linear in the text.
_SEPARATOR = r"[ .\-/()]{0,2}"
#: Fewest digits of a national form matched on its own (without the country code).
_NATIONAL_MIN = 7


def _digits(digits: str) -> str:
    return _SEPARATOR.join(digits)


def phone_spelling(e164: str) -> str:
    """A pattern for every way the phone ``e164`` is commonly written.

    ``+``, ``00`` or nothing before the country code, an optional ``(0)`` trunk prefix, and the national
    form (``912 345 678``, ``020 7946 0000``), with spaces, dots, dashes or brackets between the digits; never
    a part of a longer digit run."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        forms = [re.escape(e164), re.escape(e164.lstrip("+"))]
    else:
        national = re.sub(r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
        significant = phonenumbers.national_significant_number(parsed)
        international = (
            rf"(?:\(?(?:\+|00){_SEPARATOR})?{_digits(str(parsed.country_code))}{_SEPARATOR}"
            rf"(?:\(0\){_SEPARATOR})?{_digits(significant)}"
        )
        # A national form shorter than 7 digits (Niue's 4002) is too common a digit run to be hers alone.
        forms = [international, _digits(national)] if len(national) >= _NATIONAL_MIN else [international]
    return rf"(?<!\d)(?:{'|'.join(forms)})(?!\d)"


def spellings(identifiers: Iterable[tuple[str, str]]) -> re.Pattern[str] | None:
    """One pattern for every written form of the identifiers (kind, normalized value) we look for."""
    phones: set[str] = set()
    others: set[str] = set()
    for kind, value in identifiers:
        (phones if kind == "phone" else others).add(value)
    longest_first = sorted((f for f in others if len(f) >= 5), key=len, reverse=True)  # never a stub
    forms = [phone_spelling(p) for p in sorted(phones) if len(p.lstrip("+")) >= 5] + list(map(re.escape, longest_first))
    return re.compile("|".join(forms), re.IGNORECASE) if forms else None


#: Keys whose values are content addresses (an attachment's file), never written by a person: a digest whose
#: hex digits happened to spell her number must not be broken (the media stage finds the file by it).
_ADDRESSES = frozenset({"sha256"})


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MARK, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _ADDRESSES else _scrub(v, pattern) for k, v in value.items()}
    return value


def _party(party: dict[str, Any], keys: set[str], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    kept = [i for i in party.get("identifiers") or [] if f"{i.get('kind')}:{i.get('value')}" not in keys]
    if len(kept) < len(party.get("identifiers") or []):
        return {**party, "identifiers": kept, "display_name": None}  # the party was her: her name goes too
    name = party.get("display_name")
    if pattern is None or not isinstance(name, str):
        return party
    return {**party, "display_name": pattern.sub(MARK, name)}  # "Bob (writing for alice@...)"


def redact(document: dict[str, Any], keys: set[str], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    """The document without the identifiers ``keys`` (``kind:value``) and their spellings.

    Parties lose her identifiers (and her name); every other field but the structural ones has her
    spellings replaced, a field the model does not know included. An address change (an identity notice,
    never a timeline row) is left as it is: it holds identifiers only, which the parties must carry."""
    out: dict[str, Any] = {}
    for name, value in document.items():
        if name in STRUCTURE or name == "address_change":
            out[name] = value
        elif name == "sender":
            out[name] = _party(value, keys, pattern) if isinstance(value, dict) else value
        elif name == "recipients":
            out[name] = [_party(p, keys, pattern) for p in value or []]
        else:
            out[name] = value if pattern is None else _scrub(value, pattern)
    return out


async def redact_linked(
    conn: Conn,
    ids: list[uuid.UUID],
    identifiers: list[tuple[str, str]],
    *,
    erasure_id: uuid.UUID,
    now: datetime,
) -> tuple[list[uuid.UUID], list[Record]]:
    """Redact the other customers' interactions linked to ``ids``; (the ids of those changed, their events).

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
    return [i for i, _, _ in changed], records
