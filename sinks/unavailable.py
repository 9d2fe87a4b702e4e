"""A database fault a pull connector's store may meet (a restart, a failover, a dropped or exhausted pool)
raised as :class:`~schemas.errors.RetriableError`, declared once.

The pull loop retries a RetriableError after a backoff and reads again from its checkpoint; any other
exception stops it. ``psycopg.OperationalError`` covers a connection the server closed and the pool's own
``PoolTimeout`` (a subclass).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from schemas.errors import RetriableError


@contextmanager
def retriable_database(what: str) -> Iterator[None]:
    """Around one store call: ``RetriableError("<what> unavailable: <error type>")`` for a database fault."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise RetriableError(f"{what} unavailable: {type(exc).__name__}") from exc
