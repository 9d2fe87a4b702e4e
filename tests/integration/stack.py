"""Runs the real ``omnitrail up`` process tree for integration tests, and reads topics back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import httpx
import psutil

from omnitrail.local_stack import free_port
from sinks.kafka import reader
from sinks.kafka.settings import KafkaSettings
from tests.channel_env import CHANNEL_ENV
from tests.processes import commands

T = TypeVar("T")
AGENT = {"Authorization": "Bearer agent-token"}
ADMIN = {"Authorization": "Bearer admin-token"}
#: Short consumer-group timeouts: a join in seconds, a killed worker's partitions back fast.
FAST_GROUP = {
    "OMNITRAIL_KAFKA_SESSION_TIMEOUT_S": "6",
    "OMNITRAIL_KAFKA_HEARTBEAT_INTERVAL_S": "1",
    "OMNITRAIL_KAFKA_REBALANCE_TIMEOUT_S": "6",
}

#: The erasure key of the test stacks (and of commands run beside them, as an import).
GDPR_HASH_KEY = "test-gdpr-hash-key-0123456789"


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def worker_pids(self) -> list[int]:
        children = commands(psutil.Process(self.proc.pid).children(recursive=True))
        return [process.pid for process, command in children.items() if "worker" in command]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


#: The ``start_stack`` fixture (tests/integration/conftest.py): settings in, a ready stack out.
StartStack = Callable[..., Stack]


async def start_omnitrail(*args: str, env: dict[str, str], cwd: Path, log: IO[bytes]) -> asyncio.subprocess.Process:
    """``omnitrail ARGS...`` as operators run it, its output (stdout and stderr) into ``log``."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omnitrail", *args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
    )


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 20) -> None:
    """SIGTERM a process the test started, SIGKILL it if it has not exited within ``timeout`` seconds."""
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM every process a test started (all at once, so they stop in parallel), then SIGKILL those that
    have not exited within ``timeout`` seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
    env.update(overrides)
    return env


def start_up(
    tmp: Path,
    *args: str,
    bootstrap: str | None = None,
    database_url: str | None = None,
    command: str = "up",
    port: int | None = None,
    **extra: str,
) -> Stack:
    """``omnitrail up`` (or another serving ``command``, e.g. ``console``), ready."""
    port = port or free_port()
    env = clean_env(
        **{
            "OMNITRAIL_HTTP_PORT": str(port),
            "OMNITRAIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "OMNITRAIL_DATA_DIR": str(tmp / ".omnitrail"),
            "OMNITRAIL_API_TOKENS": "agent-token:agent,admin-token:admin",
            "OMNITRAIL_WORKER_BATCH_WINDOW_MS": "20",
            "OMNITRAIL_GDPR_HASH_KEY": GDPR_HASH_KEY,  # erasure enabled
            **CHANNEL_ENV,  # every channel configured, with the test secrets
            # The media stage would fetch every test attachment from the providers' real hosts (unreachable
            # here) and dead-letter it; the media tests turn it on with their loopback providers.
            "OMNITRAIL_MEDIA_ENABLED": "false",
            **FAST_GROUP,
            **extra,
        }
    )
    env = {k: v for k, v in env.items() if v != ""}  # a setting given as "" is left unset
    if bootstrap:
        env.update(OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap, OMNITRAIL_KAFKA_IDEMPOTENCE="false")
    if database_url:
        env["OMNITRAIL_DATABASE_URL"] = database_url
    log_path = tmp / "omnitrail-up.log"
    with log_path.open("wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "omnitrail", command, *args], env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT
        )
    stack = Stack(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"omnitrail up exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(stack.url + "/readyz", timeout=2).status_code == 200:
                return stack
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError(f"omnitrail up not ready in 90 s:\n{log_path.read_text()[-3000:]}")


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 60, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s (last: {result!r})")
        await asyncio.sleep(0.2)


async def at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    """For :func:`eventually`: whether ``count()`` has reached ``n`` yet."""
    return await count() >= n


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Everything on the topic right now, from the beginning of every partition.

    Through the operators' own reader (``sinks.kafka.reader``), which reads past the reported
    end offsets until a poll comes back empty: the embedded broker undercounts batched records.
    """
    return [(m.key, m.value) async for m in reader.messages(KafkaSettings(), bootstrap, topic)]
