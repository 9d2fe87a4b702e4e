"""The delay of every loop that sits out a fault: capped exponential, jittered down, reset on success.

``first``, ``2 * first``, ``4 * first``, ... up to ``cap``; each wait is drawn between half the
delay and the whole of it, so processes that failed together do not retry together, and no wait
ever exceeds ``cap``. Not a library (tenacity, backoff): those retry one call until it returns,
while our loops keep running after a success (a pull loop polls again, a supervisor restarts a
child that exited cleanly, the spool alternates probes and sends), which is this class's
``reset``; the whole of it is these few lines.
"""

from __future__ import annotations

import asyncio
import random


class Backoff:
    def __init__(self, first: float, cap: float) -> None:
        self.first = first
        self.cap = cap
        self._delay = first

    def next(self) -> float:
        """The next wait (jittered), and double the delay for the one after."""
        delay = min(self._delay, self.cap)
        self._delay = min(self.cap, delay * 2)
        return delay * (0.5 + random.random() / 2)  # noqa: S311  # spreading retries, not crypto

    async def wait(self) -> float:
        """Sleep the next wait; return how long it was."""
        delay = self.next()
        await asyncio.sleep(delay)
        return delay

    def reset(self) -> None:
        """After a success: the next fault waits ``first`` again."""
        self._delay = self.first
