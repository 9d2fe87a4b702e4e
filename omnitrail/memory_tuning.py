"""Memory settings for the long-running hot-path processes (worker, webhook servers, ``up``):
CPython's garbage collector and glibc's malloc, set once after start-up by :func:`tune`.

**Collector.** CPython's cyclic collector runs its youngest generation every 700 net container
allocations and, every so often, walks the whole heap. A worker batch allocates hundreds of
thousands of short-lived containers (decoded models, rows, events), almost none of them in cycles,
so at the default threshold the collector runs thousands of times per batch and each full pass
walks every long-lived object too (imported modules, settings, caches). Freezing what exists after
start-up moves it out of every future pass; a larger first threshold makes the passes that remain
worth their cost. Cycles are still collected, only in larger steps, so memory stays bounded
(benchmarks/run.py --soak).

**malloc.** glibc serves a large allocation with its own mapping, given back to the system when it
is freed, but after each such free it raises the threshold for the next ones to that size (up to
32 MiB), so from then on they come from the heap and leave holes there that the process keeps. The
worker allocates a few MiB at a time per batch (the outbox's arrays, their results): with the
threshold moving, its resident memory settled ~70 MB higher (benchmarks/README.md, memory soak).
The threshold is fixed at glibc's own starting value. Elsewhere (musl, macOS) it is left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import platform

#: Net container allocations between two youngest-generation passes (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
_M_MMAP_THRESHOLD = -3  # <malloc.h>
#: glibc's default starting threshold, kept fixed.
MMAP_THRESHOLD = 128 * 1024


def tune() -> None:
    """Call once, after start-up allocated what lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    fix_mmap_threshold()


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold; True if it was set (glibc only)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False
