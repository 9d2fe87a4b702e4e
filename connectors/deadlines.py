"""Deadlines of one fixed length for many concurrent waits, with one timer for all of them.

``asyncio.timeout(seconds)`` arms a timer per use; under uvloop that is a libuv timer started and
stopped, ~6 µs, and a webhook request used two (its body's deadline and the broker's
acknowledgement's), ~5% of its CPU (benchmarks/webhook_stages.py). Every deadline of one
:class:`Deadlines` has the same length, so they expire in the order they were set: each wait enters
an ``asyncio.timeout(None)`` (asyncio's own cancellation and ``TimeoutError`` semantics, no timer),
and one timer, armed for the oldest wait still running, moves each wait whose time is up to "now",
at which point asyncio's timeout cancels it exactly as if it had been armed from the start. A wait
may thus end up to one loop iteration later than its own timer would have ended it, never earlier.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Deadlines:
    """``async with deadlines():`` bounds the block by ``seconds`` (``None``: unbounded), raising TimeoutError."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._waits: deque[_Wait] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> _Wait:
        return _Wait(self)

    def _add(self, wait: _Wait, loop: asyncio.AbstractEventLoop) -> None:
        waits = self._waits
        if loop is not self._loop:  # first use, or a new event loop (tests): what the old one held is gone
            waits.clear()
            self._timer = None
            self._loop = loop
        while waits and waits[0].done:  # most waits end in the order they began
            waits.popleft()
        waits.append(wait)
        if self._timer is None:
            self._timer = loop.call_at(wait.deadline, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        self._timer = None
        waits = self._waits
        now = loop.time()
        while waits and (waits[0].done or waits[0].deadline <= now):
            wait = waits.popleft()
            if wait.timeout is not None:  # not done
                wait.timeout.reschedule(now)  # asyncio's timeout now fires (next iteration) and cancels the task
        if waits:
            self._timer = loop.call_at(waits[0].deadline, self._expire, loop)


class _Wait:
    __slots__ = ("deadline", "deadlines", "done", "timeout")

    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines
        self.timeout: asyncio.Timeout | None = asyncio.timeout(None)
        self.done = False
        self.deadline = 0.0

    async def __aenter__(self) -> None:
        timeout = self.timeout
        assert timeout is not None, "a wait is entered once"
        await timeout.__aenter__()
        seconds = self.deadlines.seconds
        if seconds is None:
            self.done = True
            return
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + seconds
        self.deadlines._add(self, loop)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.done = True
        timeout, self.timeout = self.timeout, None  # a finished wait may stay queued behind a slow one: keep nothing
        if timeout is not None:
            await timeout.__aexit__(exc_type, exc, tb)
