"""Children that end with the process that started them, even when it is SIGKILLed.

``omnitrail up`` stops its children in order on SIGINT/SIGTERM; SIGKILL (``kill -9``, the OOM killer)
gives it no chance to, and its pipeline worker, media stage and embedded broker would run on as
orphans, holding partitions and ports. On Linux each child asks the kernel for a signal when its
parent ends (``prctl(PR_SET_PDEATHSIG)``), between fork and exec (the setting survives exec). If the
parent ended before the child asked, no signal will come: the child checks that its parent is still
the process that started it, and exits at once otherwise.

The kernel sends the signal when the *thread* that forked the child ends: start children from the
main thread (or the event loop's, which is the main thread in every ``omnitrail`` command). Elsewhere
than Linux nothing is asked and children outlive a SIGKILLed parent, as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
#: Looked up in the parent, once: between fork and exec the child only calls it (no loading, no allocation).
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def ended_with_us(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process ends; None off Linux."""
    if _prctl is None:
        return None
    prctl, parent = _prctl, os.getpid()
    args = (ctypes.c_ulong(_PR_SET_PDEATHSIG), ctypes.c_ulong(sig), ctypes.c_ulong(0), ctypes.c_ulong(0))

    def in_child() -> None:
        if prctl(*args) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != parent:  # the parent ended before the line above: no signal would come
            os._exit(1)

    return in_child
