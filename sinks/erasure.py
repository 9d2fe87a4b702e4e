"""Erasure of a contact's personal data (GDPR art. 17), and the record that it happened.

One transaction, for the contact and every contact merged into it:

* identifiers deleted; display name cleared; ``erased_at`` set (the ids stay: rows refer to them);
  the merge links between them dissolved (``merged_into`` cleared, merges marked undone), so a
  person who writes again through two channels is not joined back to their past by the old merge;
* their interactions deleted (bodies, subjects, html, attachments, parties, metadata): not kept
  content-less either, because contact ids are deterministic and a person who writes again
  would find their old history re-attached; only the interaction ids are recorded;
* her identifiers taken out of other customers' interactions she was in (:mod:`sinks.redaction`),
  announced as ``interaction.redacted``; the undelivered webhook events of those interactions (any
  contact's) deleted, so none is sent again with her data in it;
* updates parked for her interactions or naming her identifiers deleted (:func:`sinks.update_store.forget`);
* what merges and identity reviews kept about the identifiers is cleared, and her open identity reviews
  are closed (``rejected``, decided by ``erasure``); her attribute values and staff handling of the
  suggestions about her go (the suggestions agent forgets the survivor's suggestions themselves when
  ``contact.erased`` reaches it, publishing their closing; those of the contacts merged into her go here);
* an erasure record without personal data: counts, and an HMAC (key ``OMNITRAIL_GDPR_HASH_KEY``)
  of each identifier, so the pipeline can recognise and drop a later replay of the person's old
  interactions (:mod:`pipeline.stages.erasure`) without keeping the identifiers themselves;
* ``contact.erased`` on the timeline topic and a tombstone per contact id on the compacted
  contacts topic, through the transactional outbox: the caller drains it after the commit.

Consent history is kept: it holds no identifier, and it is the proof of what the person asked.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import topics
from schemas.ids import event_id_for
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks import outbox, person, queries, redaction, update_store
from sinks.connection import Conn
from sinks.subscriptions import undelivered


class IdentifierHasher:
    """Keyed hash of a normalized identifier key (``kind:value``): comparable, not reversible without the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, identifier_key: str) -> str:
        return hmac.new(self._key, identifier_key.encode(), hashlib.sha256).hexdigest()

    def many(self, identifier_keys: Iterable[str]) -> list[str]:
        return sorted({self(k) for k in identifier_keys})


@dataclass(frozen=True)
class Erasure:
    erasure_id: uuid.UUID
    contact_id: uuid.UUID
    erased_contact_ids: list[uuid.UUID]
    identifier_count: int
    interactions_erased: int
    erased_at: datetime
    #: Other customers' interactions she was in (a second recipient, Cc) with her identifiers taken out.
    interactions_redacted: int = 0


async def erase(conn: Conn, contact_id: uuid.UUID, hasher: IdentifierHasher, *, requested_by: str) -> Erasure | None:
    """Erase the person ``contact_id`` names (merged-away ids resolve to the survivor); None if unknown."""
    async with conn.transaction():
        survivor = await queries.resolve(conn, contact_id)
        if survivor is None:
            return None
        ids = await person.contacts(conn, survivor, lock=True)
        # A merge that committed while the lock was awaited changed who she is, and the locking statement's
        # snapshot predates it: read her again (with her contacts locked, no merge of hers can commit now)
        # until the same person comes back, so no contact of hers is left out.
        while True:
            current = await queries.resolve(conn, contact_id)
            if current is None:
                return None
            members = await person.contacts(conn, current, lock=True)
            if (current, members) == (survivor, ids):
                break
            survivor, ids = current, members
        cur = await conn.execute("SELECT kind, value FROM contact_identifiers WHERE contact_id = ANY(%b)", (ids,))
        identifiers = await cur.fetchall()
        hashes = hasher.many(f"{kind}:{value}" for kind, value in identifiers)
        emails = [value for kind, value in identifiers if kind == "email"]
        erasure_id, now = uuid.uuid4(), datetime.now(UTC)
        await conn.execute("DELETE FROM contact_identifiers WHERE contact_id = ANY(%b)", (ids,))
        await conn.execute(
            "UPDATE contacts SET display_name = NULL, merged_into = NULL, erased_at = %s, updated_at = %s"
            " WHERE contact_id = ANY(%b)",
            (now, now, ids),
        )
        redacted, redaction_events = await redaction.redact_linked(
            conn, ids, [(str(k), str(v)) for k, v in identifiers], erasure_id=erasure_id, now=now
        )
        # Attributes, links of other people's interactions to her, her undelivered outgoing webhooks and
        # the email connector's thread memory (it keeps participants' addresses) go too.
        await conn.execute("DELETE FROM contact_attributes WHERE contact_id = ANY(%b)", (ids,))
        # Staff handling of the suggestions about her (assignees, outcomes in staff's words). The suggestions
        # agent forgets its own rows when contact.erased reaches it, publishing their closing first.
        await conn.execute(
            "DELETE FROM suggestion_handling WHERE suggestion_id IN"
            " (SELECT suggestion_id FROM suggestions WHERE contact_id = ANY(%b))",
            (ids,),
        )
        await conn.execute("DELETE FROM interaction_contacts WHERE contact_id = ANY(%b)", (ids,))
        await undelivered.forget(conn, [str(i) for i in ids])
        # Other customers' undelivered events of the interactions just redacted still hold her data.
        await undelivered.forget_interactions(conn, redacted)
        if emails:
            await conn.execute("DELETE FROM email_threads WHERE participants && %b::text[]", (emails,))
        cur = await conn.execute("DELETE FROM interactions WHERE contact_id = ANY(%b) RETURNING interaction_id", (ids,))
        interaction_ids = [r[0] for r in await cur.fetchall()]
        interactions_erased = len(interaction_ids)
        # Updates parked for her interactions (which will never land now) or naming her (a status callback
        # carries her phone, an edit her new text); later ones aimed at her interactions are never parked.
        await update_store.forget(conn, interaction_ids, [f"{kind}:{value}" for kind, value in identifiers])
        await conn.execute(
            "UPDATE contact_merges SET moved_identifiers = '[]'::jsonb, evidence = '{}'::jsonb,"
            " unmerged_at = coalesce(unmerged_at, %s)"
            " WHERE survivor_id = ANY(%b) OR merged_id = ANY(%b)",
            (now, ids, ids),
        )
        # Her open identity reviews close with her (rejected by the erasure): none stays to propose her again, as a
        # suggestion naming her or as a merge of her empty contact into a live person.
        await conn.execute(
            "UPDATE identity_reviews SET evidence = '{}'::jsonb,"
            " decided_at = CASE WHEN status = 'open' THEN %s ELSE decided_at END,"
            " decided_by = CASE WHEN status = 'open' THEN 'erasure' ELSE decided_by END,"
            " status = CASE WHEN status = 'open' THEN 'rejected' ELSE status END"
            " WHERE contact_a = ANY(%b) OR contact_b = ANY(%b)",
            (now, ids, ids),
        )
        # The suggestions agent forgets the survivor's suggestion rows (contact.erased names only her survivor);
        # those of the contacts merged into her (their activity, suggestions closed or moved before) go here.
        merged_away = [i for i in ids if i != survivor]
        for table in ("suggestion_activity", "suggestions", "suggestion_schedule"):
            await conn.execute(f"DELETE FROM {table} WHERE contact_id = ANY(%b)", (merged_away,))  # noqa: S608
        await conn.execute(
            "INSERT INTO contact_erasures (erasure_id, contact_id, erased_contact_ids, identifier_count,"
            " interactions_erased, requested_by, erased_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (erasure_id, survivor, ids, len(hashes), interactions_erased, requested_by, now),
        )
        await conn.execute(
            """
            INSERT INTO erased_identifiers (identifier_hash, erasure_id, erased_at)
            SELECT h, %s, %s FROM unnest(%b::text[]) AS h
            ON CONFLICT (identifier_hash) DO UPDATE SET erasure_id = excluded.erasure_id, erased_at = excluded.erased_at
            """,
            (erasure_id, now, hashes),
        )
        await conn.execute(
            "INSERT INTO erased_interactions (interaction_id, erasure_id) SELECT i, %s FROM unnest(%b::uuid[]) AS i"
            " ON CONFLICT (interaction_id) DO NOTHING",
            (erasure_id, interaction_ids),
        )
        event = TimelineEvent(
            event_id=event_id_for(TimelineEventType.contact_erased.value, str(survivor), str(erasure_id)),
            type=TimelineEventType.contact_erased,
            contact_id=survivor,
            occurred_at=now,
        )
        await outbox.append(
            conn,
            [
                (topics.TIMELINE, str(survivor).encode(), event.model_dump_json().encode()),
                *redaction_events,
                *((topics.CONTACTS, str(i).encode(), None) for i in ids),
            ],
        )
    return Erasure(erasure_id, survivor, ids, len(hashes), interactions_erased, now, len(redacted))


async def erased_since(conn: Conn, hashes: list[str]) -> dict[str, datetime]:
    """For those of ``hashes`` that were erased: when."""
    if not hashes:
        return {}
    cur = await conn.execute(
        "SELECT identifier_hash, erased_at FROM erased_identifiers WHERE identifier_hash = ANY(%b)", (hashes,)
    )
    return {h: at for h, at in await cur.fetchall()}


async def erased_rows(conn: Conn, interaction_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these interactions an erasure deleted (a provider's retry of one gets a new timestamp)."""
    if not interaction_ids:
        return set()
    cur = await conn.execute(
        "SELECT interaction_id FROM erased_interactions WHERE interaction_id = ANY(%b)", (interaction_ids,)
    )
    return {row[0] for row in await cur.fetchall()}
