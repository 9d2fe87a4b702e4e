"""``omnitrail up`` killed outright (``kill -9``, the OOM killer) takes its children with it: no pipeline
worker, media stage or embedded broker runs on as an orphan, holding partitions and ports."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.integration.stack import start_up
from tests.processes import commands, running, still_running_after

pytestmark = pytest.mark.integration


def test_every_child_of_up_ends_within_seconds_when_up_is_sigkilled(tmp_path: Path, private_database_url: str) -> None:
    # No bootstrap: the embedded broker is one of its children (a database of its own: its worker drains the
    # outbox to that broker); the media stage is on: a child too.
    stack = start_up(tmp_path, database_url=private_database_url, OMNITRAIL_MEDIA_ENABLED="true")
    children = commands(psutil.Process(stack.proc.pid).children(recursive=True))
    try:
        for role in ("omnitrail worker", "omnitrail media", "broker --listener-url"):
            assert any(role in command for command in children.values()), children
        stack.proc.kill()
        stack.proc.wait()
        assert [children[child] for child in still_running_after(list(children), 10)] == []
    finally:
        for orphan in running(list(children)):
            orphan.kill()
