"""The one loop every pull connector runs in: poll, wait for more, and sit out faults.

``poll`` fetches what is new and checkpoints after the broker's ack; ``wait_for_more`` blocks
on IDLE, a long poll or an interval. A retriable fault (the broker, the network, a server that
says BYE: :class:`~schemas.errors.RetriableError`, ``OSError`` or the connector's own
``retriable`` exceptions) closes the connector's connections and tries again after a capped,
jittered exponential backoff; nothing is skipped because the checkpoint did not move. A
:class:`~schemas.errors.FatalError` (bad credentials, misconfiguration) stops the loop and is
reported, since retrying cannot help; so does any other exception (a bug), by its type only (the
message could hold personal data): logged, and ``stopped: <ErrorType>`` on ``/readyz``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog
from prometheus_client import Counter

from connectors.base import AnyConnector
from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from schemas.errors import FatalError, RetriableError
from sinks.kafka.backoff import Backoff

log = structlog.get_logger(__name__)
PULL_FAULTS = Counter("omnitrail_pull_faults_total", "Pull-loop faults sat out with a backoff", ["connector"])
PULLED = Counter("omnitrail_pulled_total", "Items a pull connector emitted (broker-acknowledged)", ["connector"])


@dataclass
class PullHealth:
    """What ``/readyz`` says about one pull loop."""

    state: str = "starting"  # starting | ok | retrying: <error> | stopped: <error>
    last_poll_at: float | None = None
    emitted: int = 0


class PullLoop:
    def __init__(
        self,
        connector: AnyConnector,
        emitter: Emitter,
        checkpoints: CheckpointStore,
        *,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
    ) -> None:
        self.connector = connector
        self.emitter = emitter
        self.checkpoints = checkpoints
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.health = PullHealth()

    def _retriable(self, exc: BaseException) -> bool:
        return isinstance(exc, (RetriableError, OSError, TimeoutError, *self.connector.retriable))

    async def run(self) -> None:
        """Run until cancelled or a fatal error; the caller owns the task."""
        name = self.connector.name
        backoff = Backoff(self.first_delay, self.max_delay)
        try:
            while True:
                try:
                    emitted = await self.connector.poll(self.emitter, self.checkpoints)
                    self.health.state, self.health.last_poll_at = "ok", time.time()
                    self.health.emitted += emitted
                    PULLED.labels(name).inc(emitted)
                    backoff.reset()
                    await self.connector.wait_for_more()
                except FatalError as exc:
                    self.health.state = f"stopped: {exc}"
                    log.error("pull.stopped", connector=name, error=str(exc))
                    raise
                except Exception as exc:
                    if not self._retriable(exc):  # a bug or a fault no retry can mend: said, never silent
                        self.health.state = f"stopped: {type(exc).__name__}"
                        log.error("pull.stopped", connector=name, error=type(exc).__name__)
                        raise
                    PULL_FAULTS.labels(name).inc()
                    self.health.state = f"retrying: {type(exc).__name__}"
                    delay = backoff.next()
                    log.warning("pull.retrying", connector=name, error=type(exc).__name__, delay=round(delay, 2))
                    await self.connector.close()
                    await asyncio.sleep(delay)
        finally:
            await self.connector.close()
