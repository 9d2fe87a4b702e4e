"""Garbage-collector settings for the long-running hot-path processes (worker, webhook server).

CPython's cyclic collector runs its youngest generation every 700 net container allocations
and, every so often, walks the whole heap. A worker batch allocates hundreds of thousands of
short-lived containers (decoded models, rows, events), almost none of them in cycles, so at the
default threshold the collector runs thousands of times per batch and each full pass walks
every long-lived object too (imported modules, settings, caches). Freezing what exists after
start-up moves it out of every future pass; a larger first threshold makes the passes that
remain worth their cost. Cycles are still collected, only in larger steps, so memory stays
bounded (benchmarks/run.py --soak).
"""

from __future__ import annotations

import gc

#: Net container allocations between two youngest-generation passes (CPython's default: 700).
YOUNG_THRESHOLD = 50_000


def tune() -> None:
    """Call once, after start-up allocated what lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
