"""Waiting for processes a test did not start itself to end (psutil: they need not be its children)."""

from __future__ import annotations

import time

import psutil


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running: a zombie has ended, whether or not anything reaped it yet."""
    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def still_running_after(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of ``processes`` still running once all have ended or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while (alive := running(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def commands(processes: list[psutil.Process]) -> dict[psutil.Process, str]:
    """The command line of each of ``processes`` still running: one that ended (a zombie not yet reaped by its
    supervisor included) has none to read, and is left out."""
    lines = {}
    for process in processes:
        try:
            lines[process] = " ".join(process.cmdline())
        except psutil.NoSuchProcess:  # ZombieProcess is one
            continue
    return lines
