"""Prometheus metrics of the pipeline worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROCESSED = Counter("omnitrail_pipeline_interactions_total", "Interactions by outcome", ["outcome"])
BATCH_SECONDS = Histogram(
    "omnitrail_pipeline_batch_seconds", "Time to commit one batch", buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
)
END_TO_END = Histogram(
    "omnitrail_end_to_end_seconds",
    "Connector stamp (received_at) to committed timeline row",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ASSIGNED = Gauge("omnitrail_pipeline_assigned_partitions", "Partitions of the interactions topic held")
