"""Retry with capped exponential backoff for the faults a worker must sit out (database, broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
import structlog
from psycopg import errors as pg_errors

from schemas.errors import RetriableError
from sinks.kafka.backoff import Backoff

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: Faults that go away by themselves: lost connections, deadlocks between workers, broker outages.
TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    pg_errors.DeadlockDetected,
    pg_errors.SerializationFailure,
    RetriableError,
    OSError,
)


async def forever(what: str, call: Callable[[], Awaitable[T]], *, first: float = 0.05, cap: float = 5.0) -> T:
    """Run ``call`` until it succeeds; only cancellation stops it. Nothing is skipped, nothing acked meanwhile."""
    backoff = Backoff(first, cap)
    attempt = 0
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            attempt += 1
            delay = backoff.next()
            log.warning("retrying", what=what, attempt=attempt, error=type(exc).__name__, delay=round(delay, 3))
            await asyncio.sleep(delay)
