"""What a connector is: a name, its settings class, and routes it declares (push), a pull loop, or both.

A push connector *declares* its routes (:meth:`Connector.routes`: path, source, verify, normalize,
respond) and the unsigned answers providers need (:meth:`Connector.answers`: Meta's verification
handshake, X's CRC). Everything else derives from that one declaration: the FastAPI router
(:func:`connectors.webhook.serve`), the webhook fast path (the static signed POSTs, dispatched
ahead of FastAPI's stack) and ``omnitrail deadletter replay`` (a dead letter's source names the
route, whose normalizer reads its bytes again), so a route cannot be served and not be replayable.

A pull connector implements :meth:`Connector.poll` (fetch what is new, emit it, checkpoint after
the broker's ack) and :meth:`Connector.wait_for_more` (IDLE, long poll or a sleep);
:mod:`connectors.pull` runs that loop, with reconnects, backoff and health, once for every pull
connector, and :meth:`Connector.replayers` names how its dead letters are read again. A connector
may be both (Telegram: webhook or polling mode).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Generic, TypeVar, get_args

from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from connectors.webhook import Answer, Normalized, Normalizer, RawRequest, Route
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError
from schemas.interaction import Interaction

S = TypeVar("S", bound=OmnitrailSettings)
#: How ``omnitrail deadletter replay`` reads a dead letter's bytes again (async: email threads through PostgreSQL).
Replayer = Callable[[RawRequest], Awaitable["list[Interaction] | Normalized"]]


def replayer(normalize: Normalizer) -> Replayer:
    """A route's (synchronous) normalizer as a replayer."""

    async def replay(raw: RawRequest) -> list[Interaction] | Normalized:
        return normalize(raw)

    return replay


def _set(value: object) -> bool:
    return value is not None and not (isinstance(value, list | dict) and not value)


class Connector(Generic[S]):
    """``class XConnector(Connector[XSettings])``: the settings class is the type argument."""

    #: The channel name operators use: ``omnitrail connector NAME``.
    name: ClassVar[str]
    #: The settings class: the type argument of ``Connector[...]``, set when the subclass is defined.
    settings_cls: ClassVar[type[OmnitrailSettings]]
    #: Settings fields of which any one, set, enables the connector (``omnitrail up`` runs only those).
    enabled_by: ClassVar[tuple[str, ...]] = ()
    #: Library exceptions that mean "try again later" (network, server BYE); the pull loop retries them.
    retriable: ClassVar[tuple[type[BaseException], ...]] = ()
    #: Whether ``omnitrail connector NAME --backfill-since DATE`` applies (a pull source with dates).
    supports_backfill: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            for argument in get_args(base):
                if isinstance(argument, type) and issubclass(argument, OmnitrailSettings):
                    cls.settings_cls = argument

    def __init__(self, settings: S, *, default_region: str) -> None:
        """Raise FatalError naming the variable when something the connector needs is missing."""
        self.settings = settings
        #: Where national phone numbers without a country code are taken to be.
        self.default_region = default_region

    @classmethod
    def configured(cls, settings: OmnitrailSettings) -> bool:
        """Whether the settings enable this connector: any of ``enabled_by`` is set."""
        return any(_set(getattr(settings, field, None)) for field in cls.enabled_by)

    def routes(self) -> Sequence[Route]:
        """The signed POSTs providers call; none for a pure pull connector."""
        return ()

    def answers(self) -> Sequence[Answer]:
        """Requests answered without ingesting (handshakes); served after :meth:`routes`."""
        return ()

    def replayers(self) -> Mapping[str, Replayer]:
        """Every source this connector dead-letters under, and how replay reads those bytes again.

        A route's signature was verified when its payload was received, so replay goes straight to
        the route's normalizer. Pull connectors add their own sources.
        """
        return {route.source: replayer(route.normalize) for route in self.routes()}

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

    def account_states(self) -> dict[str, str]:
        """Per account of a pull connector, "ok" or why it is not read (``/readyz``); empty: one account only."""
        return {}

    def backfill(self, since: date) -> None:
        """Re-read everything since ``since`` on the next poll, without creating duplicates."""
        raise FatalError(f"the {self.name} connector cannot backfill")

    async def close(self) -> None:
        """Drop connections; called after a failure (the next poll reconnects) and at shutdown."""


#: A connector of any channel, as the registry, the servers and replay hold them.
AnyConnector = Connector[Any]
