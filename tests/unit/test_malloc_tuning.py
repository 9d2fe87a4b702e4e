"""The mmap threshold is fixed on glibc (the memory soak in benchmarks/README.md is the measurement)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from omnitrail import malloc_tuning


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting; elsewhere tune() changes nothing")
def test_the_threshold_is_set_on_glibc() -> None:
    # In a process of its own: the setting lasts for the process.
    code = "from omnitrail import malloc_tuning; print(malloc_tuning.tune())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_elsewhere_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert malloc_tuning.tune() is False
