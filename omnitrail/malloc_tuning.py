"""glibc malloc settings for the long-running hot-path processes (worker, webhook server).

glibc serves a large allocation with its own mapping, given back to the system when it is freed,
but after each such free it raises the threshold for the next ones to that size (up to 32 MiB),
so from then on they come from the heap and leave holes there that the process keeps. The worker
allocates a few MiB at a time per batch (the outbox's arrays, their results): with the threshold
moving, its resident memory settled ~70 MB higher (benchmarks/README.md, memory soak). Setting the
threshold fixes it at glibc's own starting value. Elsewhere (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_MMAP_THRESHOLD = -3  # <malloc.h>
#: glibc's default starting threshold, kept fixed.
MMAP_THRESHOLD = 128 * 1024


def tune() -> bool:
    """Fix the mmap threshold; True if it was set (glibc only)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False
