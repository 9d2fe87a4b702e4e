"""One ``omnitrail up`` for the console tests, started for this package and stopped after it.

Not the session's ``console_stack``: every stack's worker joins the same consumer group on the
session broker, so a stack left running for the whole session would take partitions (and
suggestion evaluations, with its own settings) from stacks that later modules start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from tests.integration.console.data import LIVE_CHECK_S
from tests.integration.stack import Stack, start_up


@pytest.fixture(scope="package")
def console_stack(
    broker: EmbeddedBroker, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_up(
        tmp_path_factory.mktemp("console"),
        bootstrap=broker.bootstrap,
        database_url=database_url,
        OMNITRAIL_SUGGESTIONS_TICK_INTERVAL_S="2",  # identity reviews become suggestions within seconds
        OMNITRAIL_CONSOLE_LIVE_CHECK_S=str(LIVE_CHECK_S),  # a stream whose sign-in ended ends within seconds
    )
    yield running
    assert running.stop() == 0


@pytest.fixture
async def client(console_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console_stack.url, timeout=20) as http:
        yield http
