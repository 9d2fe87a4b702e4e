"""Prometheus metrics of the media stage, served on ``OMNITRAIL_MEDIA_METRICS_PORT`` (:mod:`omnitrail.metrics_server`).

Labels carry channels and reason classes, never URLs, file names or digests.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

from schemas.interaction import Channel

#: Why an attachment was not kept: the provider said no for good (4xx, over the cap, a host not allowed),
#: it stayed unavailable through every try (5xx, 429, unreachable), the bytes are not the type claimed,
#: or the stage failed on the interaction unexpectedly (channel ``unknown``).
Cause = Literal["refused", "unavailable", "type_mismatch", "error"]

FETCHED = Counter("omnitrail_media_fetched_total", "Attachments fetched from their provider and kept", ["channel"])
FAILED = Counter("omnitrail_media_failed_total", "Attachments recorded failed, by reason class", ["channel", "reason"])
STORED_BYTES = Counter(
    "omnitrail_media_stored_bytes_total",
    "Bytes of the attachments fetched and kept (a file the store already held counts again)",
    ["channel"],
)
SWEPT = Counter(
    "omnitrail_media_swept_files_total", "Files deleted from the store once erasures and purges left them unreferenced"
)


def kept(channel: Channel, size: int) -> None:
    FETCHED.labels(channel.value).inc()
    STORED_BYTES.labels(channel.value).inc(size)


def failed(channel: Channel | None, cause: Cause) -> None:
    FAILED.labels(channel.value if channel else "unknown", cause).inc()
