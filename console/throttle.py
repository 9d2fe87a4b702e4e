"""Failures per client address in a sliding window: guessing tokens must be slow and loud.

One throttle for both doors: failed API authentications (``OMNITRAIL_AUTH_*``, checked before the
token is even looked at, so a correct guess inside a blocked window gains nothing) and failed
sign-ins on the page (``OMNITRAIL_CONSOLE_SIGNIN_*``). Past ``limit`` failures within ``window_s``
an address waits until its oldest failure leaves the window. Successes are not counted; a
successful sign-in forgets the address's failures. In memory, per process (a restart forgets,
which only helps someone who can restart the console anyway), and bounded: past
``max_clients`` the addresses seen longest ago are forgotten first. Behind a reverse proxy the
address is the proxy's unless ``OMNITRAIL_TRUSTED_PROXIES`` names it (``omnitrail.http_server``).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        *,
        limit: int,
        window_s: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds ``client`` must wait before trying again, or None when it may try now."""
        failures = self._recent(client)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window_s - self.clock()))

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        if failures is None:
            failures = self._failures[client] = deque()
        failures.append(self.clock())
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures
