"""Topic names: part of the public contract (a new version gets a new name)."""

from __future__ import annotations

INTERACTIONS = "omnitrail.interactions.v1"
TIMELINE = "omnitrail.timeline.v1"
CONTACTS = "omnitrail.contacts.v1"
DEADLETTER = "omnitrail.deadletter.v1"
SUGGESTIONS = "omnitrail.suggestions.v1"

ALL = (INTERACTIONS, TIMELINE, CONTACTS, DEADLETTER, SUGGESTIONS)
#: Topics holding the latest state per key; old values are compacted away (and erased by tombstones).
COMPACTED = frozenset({CONTACTS})
