"""Records on ``omnitrail.deadletter.v1``: the raw bytes and why they could not be taken."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Who rejected it: a connector route or a pipeline stage.")
    reason: str = Field(description="Why, without personal data.")
    error_type: str
    raw_base64: str = Field(description="The exact bytes received, base64.")
    content_type: str | None = None
    received_at: datetime
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)

    @staticmethod
    def encode_raw(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")
