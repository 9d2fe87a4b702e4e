"""Next-action suggestions on ``omnitrail.suggestions.v1`` (keyed by contact id), schema v1.

Each record is the full, latest state of one suggestion: published when it opens, when it
moves to a surviving contact after a merge, and when it closes. Consumers keep the last
record per ``suggestion_id``. A suggestion always says why: the rule, a reason in words
(channels, counts and durations only, never personal data) and the interactions behind it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import OMNITRAIL_NAMESPACE

SUGGESTION_SCHEMA_VERSION = 1
_SUGGESTION_NAMESPACE = uuid.uuid5(OMNITRAIL_NAMESPACE, "suggestion")


class SuggestionRule(StrEnum):
    unanswered = "unanswered"
    multi_channel = "multi_channel"
    dormant = "dormant"
    whatsapp_window = "whatsapp_window"
    merge_review = "merge_review"


class SuggestionStatus(StrEnum):
    open = "open"
    closed = "closed"


class Suggestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suggestion_id: uuid.UUID = Field(description="Stable: the same rule on the same evidence is the same suggestion.")
    schema_version: int = SUGGESTION_SCHEMA_VERSION
    contact_id: uuid.UUID = Field(description="The surviving contact it is about.")
    rule: SuggestionRule
    status: SuggestionStatus
    title: str = Field(description="What to do, in a few words.")
    reason: str = Field(description="Why: the rule and the facts that triggered it (no personal data).")
    interaction_ids: list[uuid.UUID] = Field(default_factory=list, description="The interactions behind it.")
    review_id: uuid.UUID | None = Field(default=None, description="For merge_review: the identity review item.")
    profiling: bool = Field(description="Derived by automated profiling (withheld from contacts who object).")
    opened_at: datetime
    due_at: datetime | None = Field(default=None, description="When acting on it stops being possible or useful.")
    closed_at: datetime | None = None
    close_reason: str | None = None


def suggestion_id_for(rule: SuggestionRule, basis: uuid.UUID, *parts: str) -> uuid.UUID:
    """Deterministic id: the rule and its basis (an interaction or review id), not the contact,
    so a suggestion keeps its id when its contact is merged into another."""
    return uuid.uuid5(_SUGGESTION_NAMESPACE, "\x1f".join((rule.value, str(basis), *parts)))
