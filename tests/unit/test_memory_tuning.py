"""Memory settings: the collector tuned in-process, glibc's mmap threshold fixed by the image's environment."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from pathlib import Path

from omnitrail import memory_tuning

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_fixes_glibcs_mmap_threshold_for_every_role() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    for name, value in memory_tuning.MALLOC_ENV.items():
        assert re.search(rf"\b{name}={value}\b", final_stage), name


def test_tune_leaves_start_up_objects_out_of_collections_and_collects_less_often() -> None:
    # In a process of its own: the settings last for the process.
    code = (
        "import gc; from omnitrail import memory_tuning; memory_tuning.tune();"
        "print(gc.get_freeze_count() > 0, gc.get_threshold()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", str(memory_tuning.YOUNG_THRESHOLD)]
    assert gc.get_threshold()[0] != memory_tuning.YOUNG_THRESHOLD  # this process untouched
