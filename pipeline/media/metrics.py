"""Prometheus metrics of the media stage, served on ``OMNITRAIL_MEDIA_METRICS_PORT`` (:mod:`omnitrail.metrics_server`).

Labels carry channels, sources and reason classes, never URLs, file names or digests.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

from schemas.interaction import Channel

#: Why an attachment was not kept: the provider said no for good (4xx, over the cap, a host not allowed),
#: it stayed unavailable through every try (5xx, 429, unreachable), the bytes are not the type claimed,
#: or the stage failed on the interaction unexpectedly (channel ``unknown``).
Cause = Literal["refused", "unavailable", "type_mismatch", "error"]
#: Where a kept file's bytes came from: ``fetched`` from its provider by the stage, or ``carried`` in the
#: message (an email attachment the connector put in the store as it read the mail; the stage checks it).
Source = Literal["fetched", "carried"]

KEPT = Counter("omnitrail_media_kept_total", "Attachments kept, by where their bytes came from", ["channel", "source"])
FAILED = Counter("omnitrail_media_failed_total", "Attachments recorded failed, by reason class", ["channel", "reason"])
STORED_BYTES = Counter(
    "omnitrail_media_stored_bytes_total",
    "Bytes of the attachments kept (a file the store already held counts again)",
    ["channel", "source"],
)
SWEPT = Counter(
    "omnitrail_media_swept_files_total", "Files deleted from the store once erasures and purges left them unreferenced"
)


def kept(channel: Channel, source: Source, size: int) -> None:
    KEPT.labels(channel.value, source).inc()
    STORED_BYTES.labels(channel.value, source).inc(size)


def failed(channel: Channel | None, cause: Cause) -> None:
    FAILED.labels(channel.value if channel else "unknown", cause).inc()
