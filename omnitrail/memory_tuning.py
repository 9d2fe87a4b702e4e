"""Memory settings for the long-running hot-path processes (worker, webhook servers, ``up``):
CPython's garbage collector, set once after start-up by :func:`tune`, and glibc's malloc.

**Collector.** CPython's cyclic collector runs its youngest generation every 700 net container
allocations and, every so often, walks the whole heap. A worker batch allocates hundreds of
thousands of short-lived containers (decoded models, rows, events), almost none of them in cycles,
so at the default threshold the collector runs thousands of times per batch and each full pass
walks every long-lived object too (imported modules, settings, caches). Freezing what exists after
start-up moves it out of every future pass; a larger first threshold makes the passes that remain
worth their cost. Cycles are still collected, only in larger steps, so memory stays bounded
(benchmarks/run.py --soak).

Measured (benchmarks/run.py ``--only omnitrail`` against the same code without :func:`tune`,
two rounds each, interleaved): worker CPU 150-162 ms per 1,000 interactions with it, 215-238
without; resident memory 228-245 MB against 233-238 MB.

**malloc** is not set here but by the environment: ``MALLOC_MMAP_THRESHOLD_`` (:data:`MALLOC_ENV`)
fixes glibc's mmap threshold at its starting value, so the worker's few-MiB arrays per batch keep
their own mappings instead of fragmenting the heap (~70 MB of resident memory in the soak,
benchmarks/README.md). glibc reads it when a process starts, so the container image sets it, and
``omnitrail up`` for the worker it starts; other deployments set it themselves
(docs/operations.md). musl and macOS ignore it.
"""

from __future__ import annotations

import gc

#: Net container allocations between two youngest-generation passes (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
#: glibc's default starting mmap threshold (128 KiB), kept fixed by the environment.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


def tune() -> None:
    """Call once, after start-up allocated what lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
