"""Example consumer of ``omnitrail.timeline.v1``: aiokafka, validated with the published JSON Schema.

Copy it into your service. It shows the three things every consumer of the timeline must do:

1. **Join a consumer group and commit after handling** (at-least-once): a crash replays events
   rather than losing them, so make your handler idempotent; ``event_id`` is unique per event.
2. **Validate what you read** against ``timeline_event.v1.json`` (``omnitrail schema export DIR``
   writes it; the repository keeps it in ``schemas/json/``).
3. **Tolerate additions** (the compatibility policy in docs/operations.md): within v1, producers
   may add optional properties and new enum values (a new channel, a new event type). The
   published schema is strict (``additionalProperties: false``, closed enums) to document
   exactly what exists today, so this consumer reports such differences as ``newer`` and carries
   on, instead of rejecting events from a newer Omnitrail. Anything else is ``invalid``.

Erasures reach you as events too: ``contact.erased`` (delete what you keep about that contact)
and ``interaction.redacted`` (another customer's interaction the erased person was in, e.g. in Cc,
with her identifiers taken out: replace your copy of ``interaction`` by the one in the event).

Run it::

    python docs/examples/timeline_consumer.py --bootstrap localhost:9092 --group my-crm \
        --schema schemas/json/timeline_event.v1.json

Each event becomes one JSON line on stdout: ``status`` (``valid``, ``newer``, ``invalid``),
``type``, ``event_id``, ``contact_id``, ``partition``, ``offset`` (and ``errors`` when invalid).
Needs only ``aiokafka`` and ``jsonschema``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from jsonschema import Draft202012Validator, ValidationError

TOPIC = "omnitrail.timeline.v1"
#: Schema keywords a newer v1 producer may legitimately "violate": new properties, new enum values.
TOLERATED = frozenset({"additionalProperties", "enum"})


def _tolerated(error: ValidationError) -> bool:
    if error.validator in TOLERATED:
        return True
    # An optional enum (``anyOf: [enum, null]``) fails as a whole: look inside its branches.
    return error.validator in ("anyOf", "oneOf") and any(_tolerated(e) for e in error.context or [])


def classify(validator: Draft202012Validator, event: Any) -> tuple[str, list[str]]:
    """("valid" | "newer" | "invalid", messages) for one decoded event."""
    errors = list(validator.iter_errors(event))
    if not errors:
        return "valid", []
    hard = [e for e in errors if not _tolerated(e)]
    if hard:
        return "invalid", [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in hard]
    return "newer", [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in errors]


def handle(event: Any, status: str, messages: list[str], partition: int, offset: int) -> None:
    """Your business logic goes here. This example prints a summary line (no personal data)."""
    fields = event if isinstance(event, dict) else {}
    line = {
        "status": status,
        "type": fields.get("type"),
        "event_id": fields.get("event_id"),
        "contact_id": fields.get("contact_id"),
        "partition": partition,
        "offset": offset,
    }
    if status != "valid":
        line["errors"] = messages
    print(json.dumps(line), flush=True)


def load_validator(schema_path: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_path.read_text(encoding="utf-8")))


async def consume(
    bootstrap: str,
    group: str,
    validator: Draft202012Validator,
    *,
    topic: str = TOPIC,
    from_beginning: bool,
    exit_at_end: bool,
) -> int:
    """Consume until cancelled (or, with ``exit_at_end``, until the end offsets seen at start); return count."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # commit only what was handled: at-least-once
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    handled = 0
    try:
        end: dict[Any, int] | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    try:
                        event = json.loads(record.value or b"")
                        status, messages = classify(validator, event)
                    except json.JSONDecodeError as exc:
                        event, status, messages = None, "invalid", [f"not JSON: {exc.msg}"]
                    handle(event, status, messages, record.partition, record.offset)
                    handled += 1
                await consumer.commit({tp: records[-1].offset + 1})
            if exit_at_end:
                assigned = consumer.assignment()
                if end is None and assigned:
                    end = dict(await consumer.end_offsets(list(assigned)))
                if end is not None and all([await consumer.position(tp) >= off for tp, off in end.items()]):
                    return handled
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="host:port[,host:port]")
    parser.add_argument("--group", required=True, help="your consumer group id")
    parser.add_argument("--schema", required=True, type=Path, help="path of timeline_event.v1.json")
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--from-beginning", action="store_true", help="a new group starts at the oldest event")
    parser.add_argument("--exit-at-end", action="store_true", help="stop once caught up (batch jobs, tests)")
    args = parser.parse_args()
    try:
        count = asyncio.run(
            consume(
                args.bootstrap,
                args.group,
                load_validator(args.schema),
                topic=args.topic,
                from_beginning=args.from_beginning,
                exit_at_end=args.exit_at_end,
            )
        )
    except KeyboardInterrupt:
        return
    print(f"handled {count} events", file=sys.stderr)


if __name__ == "__main__":
    main()
