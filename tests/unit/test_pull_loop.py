"""The shared pull loop: sits out retriable faults with backoff, stops on fatal ones, reports health."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from connectors.base import Connector
from connectors.checkpoints import CheckpointStore
from connectors.emitter import Emitter
from connectors.pull import PullLoop
from connectors.testing import InMemoryCheckpoints, InMemoryEmitter
from schemas.config import OmnitrailSettings
from schemas.errors import FatalError, RetriableError


class ServerSaidBye(Exception):
    """Stands for a library's own 'connection lost' exception."""


class ScriptedConnector(Connector[OmnitrailSettings]):
    """Raises the scripted faults in turn, then emits one item per poll."""

    name: ClassVar[str] = "scripted"
    retriable: ClassVar[tuple[type[BaseException], ...]] = (ServerSaidBye,)

    def __init__(self, faults: list[BaseException]) -> None:
        super().__init__(OmnitrailSettings(), default_region="PT")
        self.faults = faults
        self.polls = 0
        self.closed = 0

    @property
    def pulls(self) -> bool:
        return True

    async def poll(self, emitter: Emitter, checkpoints: CheckpointStore) -> int:
        self.polls += 1
        if self.faults:
            raise self.faults.pop(0)
        return 1

    async def wait_for_more(self) -> None:
        await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.closed += 1


async def test_retriable_faults_reconnect_and_continue() -> None:
    connector = ScriptedConnector([RetriableError("broker down"), ServerSaidBye(), ConnectionResetError()])
    loop = PullLoop(connector, InMemoryEmitter(), InMemoryCheckpoints(), first_delay=0.001, max_delay=0.002)
    task = asyncio.create_task(loop.run())
    async with asyncio.timeout(5):
        while loop.health.emitted < 2:  # noqa: ASYNC110  # polling the loop's own health is the point
            await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loop.health.state == "ok"
    assert connector.closed >= 3  # after each fault, and at the end


async def test_a_fatal_error_stops_the_loop_and_says_why() -> None:
    connector = ScriptedConnector([FatalError("OMNITRAIL_X_PASSWORD: authentication failed")])
    loop = PullLoop(connector, InMemoryEmitter(), InMemoryCheckpoints(), first_delay=0.001)
    with pytest.raises(FatalError):
        await loop.run()
    assert loop.health.state.startswith("stopped: OMNITRAIL_X_PASSWORD")


async def test_an_unexpected_error_stops_the_loop_and_says_which() -> None:
    loop = PullLoop(ScriptedConnector([ZeroDivisionError()]), InMemoryEmitter(), InMemoryCheckpoints())
    with pytest.raises(ZeroDivisionError):
        await loop.run()
    assert loop.health.state == "stopped: ZeroDivisionError"  # what /readyz shows, not "ok" or "starting"
