"""Checkpoints of pull connectors: where each (connector, account, scope) resumes.

A connector saves a position only after the broker acknowledged everything up to it, so a
crash between the two re-sends (harmless: interaction ids are deterministic) and never skips.
``sinks.checkpoint_store`` keeps them in PostgreSQL; ``connectors.testing`` has an in-memory one.
Next to them lives what a pull connector needs to log in again after a restart: an OAuth 2.0
refresh token per account (the provider may rotate it on every use).
"""

from __future__ import annotations

from typing import Any, Protocol

State = dict[str, Any]


class CheckpointStore(Protocol):
    async def load(self, connector: str, account: str, scope: str) -> State | None:
        """The saved state, or None if this scope was never checkpointed."""

    async def save(self, connector: str, account: str, scope: str, state: State) -> None:
        """Make the state durable (upsert)."""

    async def scopes(self, connector: str, account: str) -> dict[str, State]:
        """Every saved scope of one account (e.g. the folders of a mailbox)."""

    async def load_refresh_token(self, connector: str, account: str) -> str | None:
        """The account's last saved OAuth 2.0 refresh token, or None."""

    async def save_refresh_token(self, connector: str, account: str, token: str) -> None:
        """Make a new (or rotated) refresh token durable before it is used."""
