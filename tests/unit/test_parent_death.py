"""Children started with :func:`omnitrail.parent_death.ended_with_us` end with their parent (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from omnitrail import parent_death
from tests.processes import running, still_running_after

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

MIDDLE = """
import signal, subprocess, sys
from omnitrail import parent_death
from tests.processes import running, still_running_after
child = subprocess.Popen(["sleep", "60"], preexec_fn=parent_death.ended_with_us(signal.SIGTERM))
print(child.pid, flush=True)
sys.stdin.read()
"""


def test_a_child_gets_the_signal_when_its_parent_is_sigkilled() -> None:
    with subprocess.Popen([sys.executable, "-c", MIDDLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as middle:
        assert middle.stdout is not None
        child = psutil.Process(int(middle.stdout.readline()))
        middle.kill()
    try:
        assert still_running_after([child], 5) == []
    finally:
        for orphan in running([child]):
            orphan.kill()


def test_a_child_whose_parent_ended_before_it_asked_exits_before_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    died = parent_death.ended_with_us(signal.SIGTERM)
    monkeypatch.setattr(os, "getppid", lambda: 1)  # as the child sees it when its parent is gone: reparented
    assert subprocess.Popen(["sleep", "60"], preexec_fn=died).wait(timeout=5) == 1
