"""One event to one subscriber: signed POST, retried with capped exponential backoff.

Retried: connection errors, timeouts, 408, 425, 429 and 5xx (the receiver may recover; a
``Retry-After`` it sends is honoured up to the backoff cap). Not retried: other 4xx, which
say the receiver will never take this request as it is. Either way, an event that is not
delivered ends among the subscriber's undelivered events, never silently dropped.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import structlog
from prometheus_client import Counter, Histogram

from sinks.kafka.backoff import Backoff
from sinks.subscriptions import signature
from sinks.subscriptions.settings import Subscriber, SubscriptionSettings

log = structlog.get_logger(__name__)

DELIVERIES = Counter(
    "omnitrail_webhook_sink_deliveries_total",
    "Timeline events handled per subscriber: delivered, dead_lettered, filtered (not subscribed)",
    ["subscriber", "outcome"],
)
RESPONSES = Counter(
    "omnitrail_webhook_sink_responses_total",
    "Delivery attempts per subscriber by response class (2xx, 3xx, 4xx, 5xx, error: no response)",
    ["subscriber", "status"],
)
ATTEMPT_SECONDS = Histogram(
    "omnitrail_webhook_sink_attempt_seconds",
    "Duration of one delivery attempt",
    ["subscriber"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_RETRIED_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    last_status: int | None
    last_error: str | None


class Deliverer:
    def __init__(self, client: httpx.AsyncClient, settings: SubscriptionSettings) -> None:
        self.client = client
        self.settings = settings

    def longest_delivery_s(self) -> float:
        """An upper bound of one :meth:`deliver`: every attempt times out and every wait is the longest."""
        settings = self.settings
        return settings.max_attempts * settings.timeout_s + (settings.max_attempts - 1) * settings.backoff_max_s

    async def deliver(self, subscriber: Subscriber, body: bytes, *, event_id: str, event_type: str) -> Delivery:
        secret = subscriber.secret.get_secret_value()
        status: int | None = None
        error: str | None = None
        backoff = Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s)
        for attempt in range(1, self.settings.max_attempts + 1):
            signed = signature.headers(secret, int(time.time()), body, event_id=event_id, event_type=event_type)
            retry_after: float | None = None
            started = time.perf_counter()
            try:
                response = await self.client.post(
                    subscriber.url, content=body, headers=signed, timeout=self.settings.timeout_s
                )
            except httpx.HTTPError as exc:
                status, error = None, type(exc).__name__
                RESPONSES.labels(subscriber.name, "error").inc()
            else:
                status = response.status_code
                RESPONSES.labels(subscriber.name, f"{status // 100}xx").inc()
                if 200 <= status < 300:
                    ATTEMPT_SECONDS.labels(subscriber.name).observe(time.perf_counter() - started)
                    return Delivery(True, attempt, status, None)
                error = f"HTTP {status}"
                if status < 500 and status not in _RETRIED_STATUSES:
                    break  # the receiver refuses this request for good: retrying cannot help
                retry_after = _seconds(response.headers.get("retry-after"))
            ATTEMPT_SECONDS.labels(subscriber.name).observe(time.perf_counter() - started)
            if attempt < self.settings.max_attempts:
                delay = backoff.next()
                if retry_after is not None:
                    delay = min(max(delay, retry_after), self.settings.backoff_max_s)
                log.info(
                    "subscription.retrying",
                    subscriber=subscriber.name,
                    event_id=event_id,
                    attempt=attempt,
                    error=error,
                    delay=round(delay, 3),
                )
                await asyncio.sleep(delay)
        return Delivery(False, attempt, status, error)


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare for webhooks and falls back to backoff)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
