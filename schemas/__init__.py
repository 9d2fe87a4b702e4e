"""The contract: versioned pydantic models every other part of Omnitrail speaks.

Nothing here imports anything else of ours; connectors, the pipeline, sinks and the
console all import from here. Field names follow ``DESIGN.md`` and are exported as
JSON Schema (``omnitrail schema export``) for consumers in other languages.
"""

from __future__ import annotations

from schemas.contact import Contact
from schemas.deadletter import DeadLetter
from schemas.identifiers import Identifier, IdentifierKind, normalize_email, normalize_phone
from schemas.ids import contact_id_for, interaction_id_for
from schemas.interaction import (
    SCHEMA_VERSION,
    AddressChange,
    Attachment,
    CallInfo,
    Channel,
    Direction,
    Interaction,
    InteractionKind,
    Party,
    PartyRole,
    Provider,
    StatusUpdate,
)
from schemas.suggestion import Suggestion, SuggestionRule, SuggestionStatus
from schemas.timeline import TimelineEvent, TimelineEventType

__all__ = [
    "SCHEMA_VERSION",
    "AddressChange",
    "Attachment",
    "CallInfo",
    "Channel",
    "Contact",
    "DeadLetter",
    "Direction",
    "Identifier",
    "IdentifierKind",
    "Interaction",
    "InteractionKind",
    "Party",
    "PartyRole",
    "Provider",
    "StatusUpdate",
    "Suggestion",
    "SuggestionRule",
    "SuggestionStatus",
    "TimelineEvent",
    "TimelineEventType",
    "contact_id_for",
    "interaction_id_for",
    "normalize_email",
    "normalize_phone",
]
