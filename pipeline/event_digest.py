"""What the suggestions agent reads of a timeline event: its type, contact and the interaction's shape.

Decoding a whole ``TimelineEvent`` builds every party, identifier, attachment and the text of
the interaction it carries only to read a few fields of it; this model parses the same JSON and
keeps just those (unknown fields ignored), several times cheaper per event. Its field names and
types are those of :class:`schemas.timeline.TimelineEvent`, so the engine handles either.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from schemas.interaction import Channel, Direction, InteractionKind, UtcDatetime
from schemas.timeline import TimelineEventType

_SLIM = ConfigDict(extra="ignore", frozen=True)


class InteractionDigest(BaseModel):
    model_config = _SLIM

    interaction_id: uuid.UUID
    channel: Channel
    direction: Direction
    kind: InteractionKind
    occurred_at: UtcDatetime
    thread_key: str | None = None
    #: Read once, to tell a closing "thanks" (:func:`pipeline.stages.suggestion_rules.closing`); never stored.
    text: str | None = None


class ContactDigest(BaseModel):
    model_config = _SLIM

    contact_id: uuid.UUID


class EventDigest(BaseModel):
    model_config = _SLIM

    type: TimelineEventType
    contact_id: uuid.UUID
    interaction: InteractionDigest | None = None
    contact: ContactDigest | None = None
