"""The contact: one person, with every identifier that reaches them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.identifiers import Identifier
from schemas.text import Text

AttributeValue = bool | int | float | str


class Contact(BaseModel):
    """Snapshot of a contact as published on ``omnitrail.contacts.v1`` and served by the API."""

    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID
    display_name: Text | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    merged_into: uuid.UUID | None = None
    #: Custom attributes by name, typed by their definition (dates as ISO ``YYYY-MM-DD``).
    attributes: dict[str, AttributeValue] | None = None
