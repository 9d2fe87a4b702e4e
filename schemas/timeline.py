"""Events on ``omnitrail.timeline.v1``, keyed by contact id."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.contact import Contact
from schemas.interaction import SCHEMA_VERSION, Interaction


class TimelineEventType(StrEnum):
    interaction_added = "interaction.added"
    interaction_updated = "interaction.updated"
    contact_created = "contact.created"
    contact_merged = "contact.merged"
    contact_unmerged = "contact.unmerged"
    contact_erased = "contact.erased"
    #: An erased person's identifiers were taken out of this (another customer's) interaction: replace your copy.
    interaction_redacted = "interaction.redacted"


class TimelineEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID
    schema_version: int = SCHEMA_VERSION
    type: TimelineEventType
    contact_id: uuid.UUID
    occurred_at: datetime
    interaction: Interaction | None = None
    contact: Contact | None = None
    #: contact.merged / contact.unmerged: the merge, and the other contact (merged away / restored).
    merge_id: uuid.UUID | None = None
    related_contact_id: uuid.UUID | None = None
