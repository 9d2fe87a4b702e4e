"""Measuring one pipeline process: CPU, RSS, rows, latency, throughput, the same way for all three.

Everything is read from where a user would look: the process (psutil) and the committed rows.
Throughput is rows / (last ``stored_at`` - first ``stored_at``), which leaves out process start
and the consumer-group join; latency is ``stored_at - received_at`` per row (``stored_at`` is
``clock_timestamp()`` at insert, inside the committing transaction).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import psutil
import psycopg
from hdrh.histogram import HdrHistogram

from omnitrail import memory_tuning

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Result:
    name: str
    rows: int = 0
    distinct: int = 0
    expected: int = 0
    rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms_per_1k: float = 0.0
    #: CPU of the PostgreSQL backends serving the pipeline (its sessions, autovacuum of its database).
    db_cpu_ms_per_1k: float = 0.0
    peak_rss_mb: float = 0.0
    #: Committing transactions that wrote the rows (PostgreSQL's ``xmin``): rows / batches is the mean batch.
    batches: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.distinct == self.expected and (self.rows == self.distinct or self.name.startswith("ceiling"))

    def line(self) -> str:
        return (
            f"{self.name:<16}{self.rate:9.0f}/s"
            f"  p50 {self.p50_ms:7.0f} p95 {self.p95_ms:7.0f} p99 {self.p99_ms:7.0f} ms"
            f"  cpu {self.cpu_ms_per_1k:4.0f} + db {self.db_cpu_ms_per_1k:3.0f} ms/1k  rss {self.peak_rss_mb:4.0f} MB"
            f"  rows {self.rows} dup {self.rows - self.distinct} missing {self.expected - self.distinct}"
            f"  batch {self.rows / max(self.batches, 1):5.0f}"
        )


def worker_env(bootstrap: str, url: str, code_dir: str | None = None, **extra: str) -> dict[str, str]:
    """The worker's environment; ``code_dir`` runs another checkout's code (``run.py --before DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
    if code_dir:
        env["PYTHONPATH"] = code_dir  # ahead of the editable install's finder
    env.update(memory_tuning.MALLOC_ENV)  # as the image and `omnitrail up` start it
    env.update(
        OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap,
        OMNITRAIL_DATABASE_URL=url,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_KAFKA_SESSION_TIMEOUT_S="6",
        OMNITRAIL_KAFKA_HEARTBEAT_INTERVAL_S="1",
        OMNITRAIL_KAFKA_REBALANCE_TIMEOUT_S="6",
        OMNITRAIL_LOG_LEVEL="warning",
        OMNITRAIL_DATA_DIR=tempfile.mkdtemp(prefix="omnitrail-bench-"),
    )
    env.update(EXTRA_ENV)
    env.update(extra)
    return env


#: Extra worker settings for tuning experiments (``run.py --worker-env KEY=VALUE``).
EXTRA_ENV: dict[str, str] = {}

#: When set (``run.py --profile DIR``), workers run under ``py-spy record`` and leave collapsed stacks
#: here (flamegraph.pl and speedscope read them).
PROFILE_DIR: str | None = None


def worker_cmd(label: str = "worker", code_dir: str | None = None) -> list[str]:
    """``omnitrail worker``; with ``code_dir`` (see :func:`worker_env`) ``-P`` keeps the cwd's code out of the way."""
    cmd = [sys.executable, *(["-P"] if code_dir else []), "-m", "omnitrail", "worker"]
    if PROFILE_DIR:
        spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
        out = os.path.join(PROFILE_DIR, f"{label}-{int(time.time())}.folded")
        return [spy, "record", "--nonblocking", "--rate", "100", "--format", "raw", "-o", out, "--", *cmd]
    return cmd


def baseline_cmd(kind: str, bootstrap: str, url: str, topic: str, count: int) -> list[str]:
    return [sys.executable, os.path.join(HERE, "baselines.py"), kind, bootstrap, url, topic, str(count)]


def run_processes(
    name: str,
    cmds: list[tuple[list[str], dict[str, str] | None]],
    url: str,
    expected: int,
    *,
    records: int,
    table: str = "interactions",
    timeout: float = 120.0,
    until_exit: bool = False,
    ready: Callable[[], None] | None = None,
    feed: Callable[[], None] | None = None,
) -> Result:
    """Start the processes, wait until ``expected`` distinct rows are committed (or, ``until_exit``, until
    they exit by themselves), stop them, measure. ``records`` is how many input records they consume;
    ``ready``, when given, waits until they are ready (joined); ``feed`` then produces their input.
    CPU counts from then on: start-up and the group join are not the cost of an interaction."""
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for cmd, env in cmds
    ]
    watched = [psutil.Process(p.pid) for p in procs]
    if PROFILE_DIR:
        time.sleep(1.0)  # py-spy starts the worker as its child: watch the worker, not py-spy
        watched = [w.children()[0] if w.children() else w for w in watched]
    peak = 0
    backends = Backends()
    try:
        if ready is not None:
            ready()
        cpu_before = _cpu_s(watched)
        with psycopg.connect(url, autocommit=True) as conn:
            backends.start(conn)
            if feed is not None:
                feed()
            started = time.perf_counter()
            count, polls = 0, 0
            while (until_exit or count < expected) and time.perf_counter() - started < timeout:
                backends.sample(conn)
                polls += 1
                if polls % 5:  # the count costs the database CPU too: every 100 ms is enough
                    time.sleep(0.02)
                    continue
                row = conn.execute(f"SELECT count(DISTINCT interaction_id) FROM {table}").fetchone()
                count = int(row[0]) if row else 0
                rss = 0
                for w in watched:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss = max(rss, w.memory_info().rss)
                peak = max(peak, rss)
                if all(p.poll() is not None for p in procs):
                    break  # every process is gone (a baseline finished, or a crash): nothing more will come
                time.sleep(0.02)
            backends.sample(conn)
        cpu = _cpu_s(watched) - cpu_before
    finally:
        for w in watched:
            if w.is_running():
                w.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    for p in procs:
        # A baseline exits by itself before it can be sampled: it reports its own rusage as its last line.
        report = (p.stdout.read() if p.stdout else "").strip().splitlines()
        if report and report[-1].startswith("{"):
            usage = orjson.loads(report[-1])
            cpu += usage["cpu_s"] - usage["start_cpu_s"]
            peak = max(peak, usage["maxrss_kb"] * 1024)
    result = rows_result(name, url, expected, records, table=table)
    result.cpu_ms_per_1k = cpu * 1000 / max(result.rows, 1) * 1000
    result.db_cpu_ms_per_1k = backends.cpu_s() * 1000 / max(result.rows, 1) * 1000
    result.peak_rss_mb = peak / 2**20
    return result


class Backends:
    """CPU time of the database's backends other than the measuring one, from /proc (psutil), sampled
    while they live: a backend's last sample before it exits is what it counts (at most one poll
    interval is missed per backend, which only matters for the short-lived baselines' one session)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, float], float] = {}
        self._before: dict[tuple[int, float], float] = {}

    def sample(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        for (pid,) in rows:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(int(pid))  # type: ignore[call-overload]
                times = proc.cpu_times()
                self._seen[(proc.pid, proc.create_time())] = times.user + times.system

    def start(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """What the backends alive now had already spent (start-up, heartbeats) is not counted."""
        self.sample(conn)
        self._before = dict(self._seen)

    def cpu_s(self) -> float:
        return sum(v - self._before.get(k, 0.0) for k, v in self._seen.items())


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def rows_result(name: str, url: str, expected: int, records: int, *, table: str = "interactions") -> Result:
    """Rows, duplicates, latency and input records/s over the first..last committed row."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT count(*), count(DISTINCT interaction_id), extract(epoch FROM max(stored_at) - min(stored_at)),"
            f" count(DISTINCT xmin::text) FROM {table}"  # xmin: the committing transaction, i.e. the batch
        ).fetchone()
        assert row is not None
        rows, distinct, span, batches = int(row[0]), int(row[1]), float(row[2] or 0), int(row[3])
        hist = HdrHistogram(1, 600_000_000, 3)  # microseconds, up to 10 minutes
        for (lat,) in conn.execute(f"SELECT (extract(epoch FROM stored_at - received_at) * 1e6)::bigint FROM {table}"):
            hist.record_value(max(1, int(lat)))
    return Result(
        name=name,
        rows=rows,
        distinct=distinct,
        expected=expected,
        rate=records / span if span > 0 else 0.0,
        p50_ms=hist.get_value_at_percentile(50) / 1000,
        p95_ms=hist.get_value_at_percentile(95) / 1000,
        p99_ms=hist.get_value_at_percentile(99) / 1000,
        batches=batches,
    )


def wait_assigned(url: str, workers: int, partitions: int = 4, timeout: float = 60.0) -> None:
    """Until ``workers`` heartbeats together hold every partition (the group is joined and stable)."""
    deadline = time.perf_counter() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() < deadline:
            rows = conn.execute("SELECT assignment FROM pipeline_workers WHERE assignment <> ''").fetchall()
            held = sorted(int(p) for (a,) in rows for p in str(a).split(","))
            if len(rows) == workers and held == list(range(partitions)):
                return
            time.sleep(0.2)
    raise TimeoutError(f"{workers} workers did not take {partitions} partitions in {timeout}s")


def start_worker(bootstrap: str, url: str) -> psutil.Popen:
    """One worker process, watched by psutil (the soak reads its RSS as it goes)."""
    return psutil.Popen(
        worker_cmd("soak"), env=worker_env(bootstrap, url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(proc: psutil.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except psutil.TimeoutExpired:
        proc.kill()
