"""Decode stage: raw Kafka values -> interactions, or dead letters that say why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.deadletter import DeadLetter
from schemas.interaction import Interaction
from schemas.interaction_input import validation_reason
from sinks.kafka.records import RawRecord


@dataclass(frozen=True)
class Decoded:
    interactions: list[Interaction]
    dead_letters: list[DeadLetter]


def dead_letter(
    record: RawRecord, reason: str, *, source: str, now: datetime, error_type: str = "InvalidPayload"
) -> DeadLetter:
    """The record's exact bytes and why they were refused, with where they came from."""
    return DeadLetter.of(
        record.value or b"",
        reason,
        source=source,
        content_type="application/json",
        error_type=error_type,
        received_at=now,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )


def decode(records: list[RawRecord], *, source: str = "pipeline.decode") -> Decoded:
    interactions: list[Interaction] = []
    dead: list[DeadLetter] = []
    now = datetime.now(UTC)
    for record in records:
        raw = record.value or b""
        try:
            interaction = Interaction.model_validate_json(raw)
        except ValidationError as exc:
            reason = validation_reason(exc)
        else:
            if interaction.names_a_customer():
                interactions.append(interaction)
                continue
            reason = "interaction names no customer identifier to attach it to"
        dead.append(dead_letter(record, reason, source=source, now=now))
    return Decoded(interactions, dead)
