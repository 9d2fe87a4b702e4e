"""Everything held about one person (GDPR art. 15/20), as machine-readable JSON.

The person is the contact the id resolves to together with every contact merged into it:
their contact rows, identifiers (with how each was linked), custom attribute values, merges,
consent history, identity review items, every interaction document in their timeline (staff
notes included), the next-action suggestions about them with what the suggestions agent keeps
for its rules and staff handling (assignee, outcome), undelivered events (timeline events a
subscriber did not accept), and the audit log of who read or changed their data.

Every table with a contact id is here or named in :data:`NOT_EXPORTED` (the export test checks it):
a table added later without a section fails the test instead of being left out silently.
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

_SECTIONS = {
    "contacts": "SELECT contact_id, display_name, created_at, updated_at, merged_into, erased_at"
    " FROM contacts WHERE contact_id = ANY(%(ids)s) ORDER BY created_at, contact_id",
    "identifiers": "SELECT contact_id, kind, value, rule, source, created_at"
    " FROM contact_identifiers WHERE contact_id = ANY(%(ids)s) ORDER BY kind, value",
    "merges": "SELECT merge_id, survivor_id, merged_id, cause, moved_identifiers, merged_at, unmerged_at"
    " FROM contact_merges WHERE survivor_id = ANY(%(ids)s) OR merged_id = ANY(%(ids)s) ORDER BY merged_at",
    "consents": "SELECT contact_id, purpose, granted, source, recorded_by, recorded_at"
    " FROM contact_consents WHERE contact_id = ANY(%(ids)s) ORDER BY recorded_at, consent_id",
    "identity_reviews": "SELECT review_id, contact_a, contact_b, rule, evidence, status, created_at, decided_at"
    " FROM identity_reviews WHERE contact_a = ANY(%(ids)s) OR contact_b = ANY(%(ids)s) ORDER BY created_at",
    "attributes": "SELECT contact_id, name, value, source, updated_at"
    " FROM contact_attributes WHERE contact_id = ANY(%(ids)s) ORDER BY name, contact_id",
    "suggestions": "SELECT suggestion_id, contact_id, rule, status, opened_at, closed_at, document"
    " FROM suggestions WHERE contact_id = ANY(%(ids)s) ORDER BY opened_at, suggestion_id",
    # Staff handling of those suggestions: who they were assigned to, and the outcome.
    "assignments": "SELECT h.suggestion_id, h.assignee, h.assigned_by, h.assigned_at, h.outcome, h.closed_by,"
    " h.closed_at FROM suggestion_handling h JOIN suggestions s USING (suggestion_id)"
    " WHERE s.contact_id = ANY(%(ids)s) ORDER BY h.assigned_at NULLS LAST, h.suggestion_id",
    "suggestion_activity": "SELECT interaction_id, contact_id, channel, direction, kind, occurred_at"
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
