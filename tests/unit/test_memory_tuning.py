"""The mmap threshold is fixed on glibc (the memory soak in benchmarks/README.md is the measurement)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from omnitrail import memory_tuning


def test_the_threshold_is_set_on_glibc() -> None:
    # In a process of its own: the setting lasts for the process.
    code = "from omnitrail import memory_tuning; print(memory_tuning.fix_mmap_threshold())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(platform.libc_ver()[0] == "glibc")


def test_elsewhere_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert memory_tuning.fix_mmap_threshold() is False
