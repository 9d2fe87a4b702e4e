"""Test helpers shipped with the code: in-memory emitter and checkpoints, a connector's webhook app, a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from connectors.base import AnyConnector
from connectors.webhook import WebhookIngest, serve
from schemas.deadletter import DeadLetter
from schemas.errors import RetriableError
from schemas.interaction import Interaction


class InMemoryEmitter:
    """Keeps what would have been produced; ``fail`` makes every call raise like a broker outage."""

    def __init__(self) -> None:
        self.interactions: list[Interaction] = []
        self.dead_letters: list[DeadLetter] = []
        self.fail = False

    async def emit(self, interaction: Interaction) -> None:
        await self.emit_many([interaction])

    async def emit_many(self, interactions: list[Interaction]) -> None:
        if self.fail:
            raise RetriableError("in-memory broker is down")
        self.interactions.extend(interactions)

    async def dead_letter(self, record: DeadLetter) -> None:
        if self.fail:
            raise RetriableError("in-memory broker is down")
        self.dead_letters.append(record)


def webhook_app(
    connector: AnyConnector, emitter: InMemoryEmitter, *, public_url: str = "http://test", max_body_bytes: int = 65536
) -> FastAPI:
    """An app serving ``connector``'s declared routes and answers, as ``omnitrail`` mounts them."""
    ingest = WebhookIngest(emitter, public_url=public_url, max_body_bytes=max_body_bytes)
    router, _ = serve(connector.routes(), connector.answers(), ingest)
    app = FastAPI()
    app.include_router(router)
    return app


class InMemoryCheckpoints:
    """A checkpoint store in a dict; ``fail`` makes saves raise like a database outage."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.refresh_tokens: dict[tuple[str, str], str] = {}
        self.fail = False

    async def load(self, connector: str, account: str, scope: str) -> dict[str, Any] | None:
        state = self.states.get((connector, account, scope))
        return dict(state) if state is not None else None

    async def save(self, connector: str, account: str, scope: str, state: dict[str, Any]) -> None:
        if self.fail:
            raise RetriableError("in-memory checkpoint store is down")
        self.states[(connector, account, scope)] = dict(state)

    async def scopes(self, connector: str, account: str) -> dict[str, dict[str, Any]]:
        return {s: dict(v) for (c, a, s), v in self.states.items() if (c, a) == (connector, account)}

    async def load_refresh_token(self, connector: str, account: str) -> str | None:
        return self.refresh_tokens.get((connector, account))

    async def save_refresh_token(self, connector: str, account: str, token: str) -> None:
        if self.fail:
            raise RetriableError("in-memory checkpoint store is down")
        self.refresh_tokens[(connector, account)] = token


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
