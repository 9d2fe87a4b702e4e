"""The event loop of the long-running processes: uvloop where it is installed, else asyncio's own.

uvloop (libuv, in C) runs the same coroutines with less overhead per callback and per socket
read/write; on the webhook path (one request = a few socket events, a producer round trip) it
measured +14% requests/s at the same CPU per request (benchmarks/webhook_load.py). It comes
with ``uvicorn[standard]``; a process without it runs on asyncio unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(main)
    return uvloop.run(main)
