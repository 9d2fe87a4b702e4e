"""Records on ``omnitrail.deadletter.v1``: the raw bytes and why they could not be taken."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Who rejected it: a connector route or a pipeline stage.")
    reason: str = Field(description="Why, without personal data.")
    error_type: str
    raw_base64: str = Field(
        description="The exact bytes received, base64; empty when they were too large for the topic (see raw_file)."
    )
    raw_file: str | None = Field(
        default=None,
        description="Set when the bytes were too large for the topic: the file, in the receiving host's "
        "deadletter-bodies directory, that holds them (named by their SHA-256).",
    )
    raw_sha256: str | None = Field(default=None, description="SHA-256 (hex) of the bytes, with raw_file.")
    raw_size: int | None = Field(default=None, description="Size of the bytes, with raw_file.")
    content_type: str | None = None
    received_at: datetime
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def of(
        cls,
        raw: bytes,
        reason: str,
        *,
        source: str,
        content_type: str | None,
        error_type: str = "InvalidPayload",
        received_at: datetime | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter:
        """The one way a dead letter is made: the exact bytes, why, who refused them, and (pipeline) from where."""
        return cls(
            source=source,
            reason=reason,
            error_type=error_type,
            raw_base64=base64.b64encode(raw).decode("ascii"),
            content_type=content_type,
            received_at=received_at or datetime.now(UTC),
            topic=topic,
            partition=partition,
            offset=offset,
        )

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)
