"""What a connector is: a name, a settings class, and routes (push), a pull loop, or both.

A push connector contributes routes to the one webhook app (:mod:`connectors.webhook` is its
request path). A pull connector implements :meth:`Connector.poll` (fetch what is new, emit it,
checkpoint after the broker's ack) and :meth:`Connector.wait_for_more` (IDLE, long poll or a
sleep); :mod:`connectors.pull` runs that loop, with reconnects, backoff and health, once for
every pull connector. A connector may be both (Telegram: webhook or polling mode).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import ClassVar, Self

from fastapi import APIRouter

from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from connectors.webhook import Normalizer, WebhookIngest
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError


class Connector(ABC):
    #: The channel name operators use: ``omnitrail connector NAME``.
    name: ClassVar[str]
    settings_cls: ClassVar[type[OmnitrailSettings]]
    #: Library exceptions that mean "try again later" (network, server BYE); the pull loop retries them.
    retriable: ClassVar[tuple[type[BaseException], ...]] = ()
    #: Whether ``omnitrail connector NAME --backfill-since DATE`` applies (a pull source with dates).
    supports_backfill: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def create(cls, settings: OmnitrailSettings, *, default_region: str) -> Self:
        """Build from validated settings; raise FatalError naming the variable when something is missing."""

    @classmethod
    @abstractmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        """Whether the settings enable this connector (``omnitrail up`` runs only configured ones)."""

    def router(self, ingest: WebhookIngest) -> APIRouter | None:
        """The webhook routes of a push connector; None for a pure pull connector."""
        return None

    def replay_normalizer(self, source: str) -> Normalizer | None:
        """How ``omnitrail deadletter replay`` re-normalizes a dead letter of this connector's ``source``.

        The signature was verified when the payload was received, so replay goes straight to the
        normalizer. None: this connector made no dead letters under that source name.
        """
        return None

    @property
    def pulls(self) -> bool:
        """Whether this connector (as configured) runs a pull loop."""
        return False

    async def poll(self, emitter: Emitter, checkpoints: CheckpointStore) -> int:
        """Fetch everything new, emit it, advance checkpoints only after the ack; return how many were emitted."""
        raise FatalError(f"the {self.name} connector does not pull")

    async def wait_for_more(self) -> None:
        """Return when there may be something new (IDLE push, long poll, or a poll interval)."""
        raise FatalError(f"the {self.name} connector does not pull")

    def backfill(self, since: date) -> None:
        """Re-read everything since ``since`` on the next poll, without creating duplicates."""
        raise FatalError(f"the {self.name} connector cannot backfill")

    async def close(self) -> None:  # noqa: B027  # optional hook: most push connectors hold nothing
        """Drop connections; called after a failure (the next poll reconnects) and at shutdown."""


class PushConnector(Connector):
    """A connector providers call: it must contribute routes."""

    @abstractmethod
    def router(self, ingest: WebhookIngest) -> APIRouter: ...
