"""What a connector is: a name, a settings class, and either routes (push) or ``run`` (pull).

Lifecycle, retries, logging and error mapping live in the shared pieces
(:mod:`connectors.webhook` for push connectors), not in each connector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from fastapi import APIRouter

from connectors.emitter import Emitter
from connectors.webhook import WebhookIngest
from schemas.config import OmnitrailSettings


class Connector(ABC):
    #: The channel name operators use: ``omnitrail connector NAME``.
    name: ClassVar[str]
    settings_cls: ClassVar[type[OmnitrailSettings]]


class PushConnector(Connector):
    """A connector providers call: it contributes routes to the shared webhook app."""

    @abstractmethod
    def router(self, ingest: WebhookIngest) -> APIRouter: ...


class PullConnector(Connector):
    """A connector that fetches (IMAP, Telegram polling) and checkpoints after the broker ack."""

    @abstractmethod
    async def run(self, emitter: Emitter) -> None: ...
