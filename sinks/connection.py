"""The PostgreSQL connection types every store, stage, route and command takes, declared once.

``Conn`` is an autocommit-or-transaction connection returning tuples (the pool's and
``psycopg.AsyncConnection.connect``'s); ``ConnectionFactory`` is what hands one out for a
``async with`` block (``pool.connection``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg import AsyncConnection

Conn = AsyncConnection[tuple[Any, ...]]
ConnectionFactory = Callable[[], AbstractAsyncContextManager[Conn]]
