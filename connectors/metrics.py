"""Prometheus metrics of the ingestion edge. Labels carry channels and routes, never personal data."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INGESTED = Counter("omnitrail_ingested_total", "Interactions acknowledged by the broker", ["channel"])
DEADLETTERED = Counter("omnitrail_deadlettered_total", "Payloads sent to the dead-letter topic", ["source"])
REJECTED = Counter("omnitrail_webhook_rejected_total", "Webhook requests refused", ["source", "reason"])
WEBHOOK_SECONDS = Histogram(
    "omnitrail_webhook_seconds",
    "Webhook handling time up to the broker acknowledgement",
    ["source"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
