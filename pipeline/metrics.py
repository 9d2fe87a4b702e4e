"""Prometheus metrics of the pipeline worker.

Labels carry channels and outcomes, never personal data. Consumer lag is in
:mod:`sinks.kafka.lag`, shared with the webhook sink. The worker
serves them on ``OMNITRAIL_WORKER_METRICS_PORT`` (see :mod:`omnitrail.metrics_server`).
"""

from __future__ import annotations

import uuid
from collections import Counter as Tally
from collections.abc import Iterable, Set

from prometheus_client import Counter, Gauge, Histogram

from schemas.interaction import ROWLESS_KINDS, Interaction

PROCESSED = Counter(
    "omnitrail_pipeline_interactions_total",
    "Interactions taken by the pipeline, by outcome (inserted, update, duplicate, dead_lettered) and channel",
    ["outcome", "channel"],
)
BATCH_SECONDS = Histogram(
    "omnitrail_pipeline_batch_seconds", "Time to commit one batch", buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
)
END_TO_END = Histogram(
    "omnitrail_end_to_end_seconds",
    "Connector stamp (received_at) to committed timeline row",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ASSIGNED = Gauge("omnitrail_pipeline_assigned_partitions", "Partitions of the interactions topic held")
#: A record that could not be decoded has no trustworthy channel.
UNKNOWN_CHANNEL = "unknown"


def count_batch(
    decoded: Iterable[Interaction], inserted: Set[uuid.UUID], dead_lettered: int, erased: Set[uuid.UUID] = frozenset()
) -> None:
    """Count one batch per channel: inserted rows, updates, duplicates dropped, replays of erased people's
    past dropped (``erased``), dead letters."""
    tally: Tally[tuple[str, str]] = Tally()
    counted: set[uuid.UUID] = set()
    for interaction in decoded:
        if interaction.interaction_id in inserted and interaction.interaction_id not in counted:
            counted.add(interaction.interaction_id)  # a second copy in the same batch is a duplicate
            outcome = "inserted"
        elif interaction.interaction_id in erased:
            outcome = "erased"
        elif interaction.kind in ROWLESS_KINDS:
            outcome = "update"
        else:
            outcome = "duplicate"
        tally[(outcome, interaction.channel.value)] += 1
    for (outcome, channel), count in tally.items():
        PROCESSED.labels(outcome, channel).inc(count)
    if dead_lettered:
        PROCESSED.labels("dead_lettered", UNKNOWN_CHANNEL).inc(dead_lettered)
