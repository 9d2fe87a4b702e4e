"""Rate limiting of failed API authentication: guessing tokens must be slow.

Per client address, failures are counted in a sliding window; past ``max_failures`` every request
from that address is answered 429 (with ``Retry-After``) until the window has moved on, *before*
its token is even looked at, so a correct guess inside a blocked window gains nothing. Successful
requests are not counted. The table is bounded: the oldest addresses are forgotten first.
Behind a reverse proxy the address is the proxy's unless `OMNITRAIL_TRUSTED_PROXIES` names it
(``omnitrail.http_server``), which is the deployment's decision.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.config import OmnitrailSettings


class AuthSettings(OmnitrailSettings):
    model_config = SettingsConfigDict(env_prefix="OMNITRAIL_AUTH_", extra="forbid")
    toml_section: ClassVar[str | None] = "auth"

    max_failures: int = Field(default=20, ge=1, description="Failed API authentications per address per window")
    failure_window_s: float = Field(default=60.0, gt=0, description="The sliding window of max_failures")


class FailureLimiter:
    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not blocked."""
        failures = self._prune(address)
        if failures is None or len(failures) < self.max_failures:
            return None
        return max(1, int(failures[0] + self.window_s - self.clock()) + 1)

    def failed(self, address: str) -> None:
        failures = self._prune(address)
        if failures is None:
            failures = self._failures[address] = deque()
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        failures.append(self.clock())
        self._failures.move_to_end(address)

    def _prune(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures
