"""Everything held about one person (GDPR art. 15/20), as machine-readable JSON.

The person is the contact the id resolves to together with every contact merged into it:
their contact rows, identifiers (with how each was linked), custom attribute values, merges,
consent history, identity review items, every interaction document in their timeline (staff
notes included), the next-action suggestions about them with what the suggestions agent keeps
for its rules and staff handling (assignee, outcome), undelivered events (timeline events a
subscriber did not accept), the audit log of who read or changed their data, and what is held
about them by identifier rather than by contact id: status updates and edits waiting for their
message (``parked_updates``) and the email connector's thread memory (``email_threads``).

Every table of the schema is classified (the export test checks it): a section reads it, or it is
named in :data:`NOT_EXPORTED` (it names a contact but holds nothing more than a section has) or in
:data:`NO_PERSONAL_DATA`. A table added later without one of those fails the test instead of being
left out silently; so does a column of an exported table that no section reads and
:data:`COLUMNS_NOT_EXPORTED` does not name.

Not searched: other customers' interactions that mention her without naming her as a customer party
(her address in the text, a contact card she is on): those would need a scan of every interaction.
Interactions that name her as one of their customers (a second recipient, in Cc) are linked to her
contact and are in the ``interactions`` section.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row

from sinks import person, queries
from sinks.connection import Conn

FORMAT = "omnitrail.contact-export.v1"
#: Tables with a ``contact_id`` column that hold nothing about the person beyond what a section has.
NOT_EXPORTED = {
    "suggestion_schedule": "when the suggestions agent next looks at the contact",
    "interaction_contacts": "the links the interactions section follows",
    "contact_erasures": "the record that an erasure happened, with no personal data",
}
#: Tables with no ``contact_id`` column that hold nothing about a customer (or only in transit).
NO_PERSONAL_DATA = {
    "schema_migrations": "which migrations ran",
    "pipeline_workers": "worker heartbeats",
    "connector_checkpoints": "where each pull connector resumes (mailbox positions, update offsets)",
    "oauth_refresh_tokens": "the connectors' credentials for our own mailboxes",
    "attribute_definitions": "the names and types of custom attributes (her values are a section)",
    "timeline_outbox_batches": "events in transit to Kafka, deleted once the broker took them (seconds)",
    "console_sessions": "staff sign-ins",
    "console_session_secret": "the key that signs console cookies",
    "staff": "staff accounts, not customers",
    "media_references": "which interactions reference each kept file (the interactions section lists them)",
    "media_deletions": "content hashes of files queued for deletion",
    "erased_identifiers": "keyed hashes of an erasure's identifiers, the values gone",
    "erased_interactions": "ids of the interactions an erasure deleted",
}
#: Columns of exported tables that no section reads, and why.
COLUMNS_NOT_EXPORTED = {
    "interactions": {
        "interaction_id": "in the document",
        "channel": "in the document",
        "direction": "in the document",
        "kind": "in the document",
        "occurred_at": "in the document",
        "received_at": "in the document",
        "thread_key": "in the document",
        "stored_at": "when the row was written",
        "search": "the search index of the document's subject and text",
    },
    "webhook_deadletters": {
        "deadletter_id": "a row number",
        "topic": "the timeline topic, always",
        "partition": "the topic position",
        "offset": "the topic position",
        "last_status": "the receiver's HTTP status (last_error says it)",
        "contact_id": "the contact id the export is about",
    },
    "contact_consents": {"consent_id": "a row number"},
    "suggestion_handling": {"assignee_id": "the staff account's email (assignee is the name shown)"},
    "parked_updates": {"target_interaction_id": "in the document"},
    "email_threads": {"fingerprint": "a hash of the message's addresses and date, telling copies of it apart"},
}

_SECTIONS = {
    "contacts": "SELECT contact_id, display_name, created_at, updated_at, merged_into, erased_at"
    " FROM contacts WHERE contact_id = ANY(%(ids)s) ORDER BY created_at, contact_id",
    "identifiers": "SELECT contact_id, kind, value, rule, evidence, shared, touched, source, created_at"
    " FROM contact_identifiers WHERE contact_id = ANY(%(ids)s) ORDER BY kind, value",
    "merges": "SELECT merge_id, survivor_id, merged_id, cause, rule, evidence, moved_identifiers, merged_at,"
    " unmerged_at, unmerged_by"
    " FROM contact_merges WHERE survivor_id = ANY(%(ids)s) OR merged_id = ANY(%(ids)s) ORDER BY merged_at",
    "consents": "SELECT contact_id, purpose, granted, source, recorded_by, recorded_at"
    " FROM contact_consents WHERE contact_id = ANY(%(ids)s) ORDER BY recorded_at, consent_id",
    "identity_reviews": "SELECT review_id, contact_a, contact_b, rule, evidence, status, created_at, decided_at,"
    " decided_by"
    " FROM identity_reviews WHERE contact_a = ANY(%(ids)s) OR contact_b = ANY(%(ids)s) ORDER BY created_at",
    "attributes": "SELECT contact_id, name, value, source, updated_at"
    " FROM contact_attributes WHERE contact_id = ANY(%(ids)s) ORDER BY name, contact_id",
    "suggestions": "SELECT suggestion_id, contact_id, rule, status, opened_at, closed_at, document"
    " FROM suggestions WHERE contact_id = ANY(%(ids)s) ORDER BY opened_at, suggestion_id",
    # Staff handling of those suggestions: who they were assigned to, and the outcome.
    "assignments": "SELECT h.suggestion_id, h.assignee, h.assigned_by, h.assigned_at, h.outcome, h.closed_by,"
    " h.closed_at FROM suggestion_handling h JOIN suggestions s USING (suggestion_id)"
    " WHERE s.contact_id = ANY(%(ids)s) ORDER BY h.assigned_at NULLS LAST, h.suggestion_id",
    "suggestion_activity": "SELECT interaction_id, contact_id, channel, direction, kind, occurred_at, thread_hash"
    " FROM suggestion_activity WHERE contact_id = ANY(%(ids)s) ORDER BY occurred_at, interaction_id",
    "undelivered_events": "SELECT subscriber, event_id, event_type, attempts, last_error, failed_at,"
    " convert_from(body, 'UTF8') AS body FROM webhook_deadletters WHERE contact_id = ANY(%(texts)s)"
    " ORDER BY failed_at, deadletter_id",
    "audit": "SELECT audit_id, at, actor, role, action, contact_id, via"
    " FROM audit_log WHERE contact_id = ANY(%(ids)s) ORDER BY audit_id",
    # As their timeline shows them: the interactions whose row names one of the contacts (its first
    # customer) and those linked to one as another customer (e.g. a second recipient of an email).
    "interactions": "SELECT contact_id, delivery_status, document FROM interactions"
    " WHERE contact_id = ANY(%(ids)s)"
    " OR interaction_id IN (SELECT interaction_id FROM interaction_contacts WHERE contact_id = ANY(%(ids)s))"
    " ORDER BY occurred_at, interaction_id",
    # Status updates and edits that arrived before their message (parked until it lands): those aimed
    # at one of her interactions and those naming one of her identifiers on their sender or a recipient.
    "pending_updates": "SELECT p.update_id, p.occurred_at, p.parked_at, p.document FROM parked_updates p"
    " WHERE p.target_interaction_id IN (SELECT interaction_id FROM interactions WHERE contact_id = ANY(%(ids)s))"
    " OR EXISTS (SELECT 1 FROM jsonb_array_elements(jsonb_build_array(p.document -> 'sender')"
    " || coalesce(p.document -> 'recipients', '[]')) party,"
    " jsonb_array_elements(party -> 'identifiers') i JOIN contact_identifiers ci"
    " ON (ci.kind, ci.value) = (i ->> 'kind', i ->> 'value') WHERE ci.contact_id = ANY(%(ids)s))"
    " ORDER BY p.occurred_at, p.update_id",
    # The email connector's memory of the messages it threaded: those with one of her addresses among
    # the participants (with the subject key it matches replies by).
    "email_threads": "SELECT message_id, thread_key, rule, subject_key, participants, conversation, occurred_at"
    " FROM email_threads WHERE participants && ARRAY(SELECT value FROM contact_identifiers"
    " WHERE kind = 'email' AND contact_id = ANY(%(ids)s)) ORDER BY occurred_at NULLS FIRST, message_id",
}


async def export(conn: Conn, contact_id: uuid.UUID) -> dict[str, Any] | None:
    """The export document, or None when no such contact exists. Values are JSON-ready."""
    survivor = await queries.resolve(conn, contact_id)
    if survivor is None:
        return None
    ids = await person.contacts(conn, survivor)
    document: dict[str, Any] = {
        "format": FORMAT,
        "contact_id": str(survivor),
        "exported_at": datetime.now(UTC).isoformat(),
    }
    async with conn.cursor(row_factory=dict_row) as rows:
        for section, sql in _SECTIONS.items():
            await rows.execute(sql.encode(), {"ids": ids, "texts": [str(i) for i in ids]})
            document[section] = [{k: _json(v) for k, v in r.items()} for r in await rows.fetchall()]
    return document


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
