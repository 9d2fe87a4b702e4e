"""Which fields of an :class:`~schemas.interaction.Interaction` are content: declared once, for retention and redaction.

Every field of the model is in exactly one of these sets (a unit test checks it, so a new field cannot be
added without deciding what retention and erasure do with it):

* :data:`STRUCTURE`: what identifies the interaction and places it on a timeline (ids, channel, direction,
  times, the provider's references). Retention keeps it; redaction leaves it alone.
* :data:`PARTIES`: who took part. Retention keeps it (the timeline and identity links need it); redaction
  takes the erased person's identifiers and name out of the parties.
* :data:`TIMELINE`: kept by retention so the timeline stays consistent (threading, a call's row, which
  message an update names); redaction replaces the erased person's spellings in it.
* :data:`CONTENT`: what was said or shared. Retention purges it; redaction replaces the erased person's
  spellings in it.
"""

from __future__ import annotations

STRUCTURE = frozenset(
    {
        "interaction_id",
        "schema_version",
        "channel",
        "provider",
        "account",
        "direction",
        "kind",
        "occurred_at",
        "received_at",
        "external_id",
        "in_reply_to",
        "raw_ref",
    }
)
PARTIES = frozenset({"sender", "recipients", "address_change"})
TIMELINE = frozenset({"thread_key", "status", "call"})
#: Sorted: the retention purge passes it to PostgreSQL as a ``text[]``.
CONTENT: tuple[str, ...] = (
    "attachments",
    "contact_cards",
    "html",
    "location",
    "metadata",
    "quoted_text",
    "subject",
    "text",
)
