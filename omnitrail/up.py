"""``omnitrail up``: the whole stack in one process tree.

The supervisor (this process) starts what is not configured (embedded broker, embedded
PostgreSQL), migrates, creates the topics, records the addresses in the data directory,
serves HTTP (webhooks, API, health, metrics) and runs the pipeline worker as a child it
restarts if it dies. SIGINT/SIGTERM stop everything in reverse order; if the supervisor is SIGKILLed,
its children end with it (Linux, :mod:`omnitrail.parent_death`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from types import FrameType

import psycopg
import structlog
import uvicorn

from connectors.emitter import KafkaEmitter
from omnitrail import demo, event_loop, memory_tuning, parent_death, registry, subscriptions
from omnitrail.http import Roles, build_app
from omnitrail.http_server import server_config
from omnitrail.local_stack import (
    EmbeddedBroker,
    EmbeddedPostgres,
    StackState,
    clear_state,
    port_taken,
    read_state,
    write_state,
)
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from schemas.config import load
from schemas.errors import FatalError
from sinks import migrate, staff_store
from sinks.kafka import clients
from sinks.kafka.backoff import Backoff
from sinks.kafka.settings import KafkaSettings
from sinks.media.settings import MediaSettings

log = structlog.get_logger(__name__)
#: Short group timeouts for the embedded broker: a join in seconds, a dead worker's partitions back fast.
EMBEDDED_TIMEOUTS = {
    "OMNITRAIL_KAFKA_SESSION_TIMEOUT_S": "6",
    "OMNITRAIL_KAFKA_HEARTBEAT_INTERVAL_S": "1",
    "OMNITRAIL_KAFKA_REBALANCE_TIMEOUT_S": "6",
}


async def prepare(kafka_settings: KafkaSettings, addresses: Addresses) -> int:
    """Migrations and topics; how many staff accounts can sign in (what the banner tells)."""
    await migrate.migrate(addresses.database_url)
    await clients.create_topics(kafka_settings, addresses.kafka_bootstrap)
    async with await psycopg.AsyncConnection.connect(addresses.database_url, autocommit=True) as conn:
        return sum(1 for member in await staff_store.listing(conn) if member.disabled_at is None)


def _banner(
    app_settings: AppSettings, addresses: Addresses, broker: EmbeddedBroker | None, pg: bool, staff: int
) -> str:
    url = f"http://{app_settings.http_host}:{app_settings.http_port}"
    connectors = registry.enabled(app_settings)
    webhooks = [f"{app_settings.public_url}{route.path}" for c in connectors for route in c.routes()]
    pulling = [c.name for c in connectors if c.pulls]
    how = f"with one of the {staff} staff account(s)" if staff else "with a staff account: make one with"
    lines = [
        "Omnitrail is up.",
        f"  console      {url}/",
        f"  sign in      {how}"
        + ("" if staff else " omnitrail staff add EMAIL --name NAME --role admin")
        + (", or an API token from OMNITRAIL_API_TOKENS" if app_settings.tokens() else ""),
        f"  HTTP         {url}  (/readyz, /healthz, /metrics, /openapi.json, /api/v1, /webhooks)",
        f"  public URL   {app_settings.public_url}  (what webhook signatures are checked against)",
        *[f"  webhook      {hook}" for hook in webhooks],
        *([f"  pulling      {', '.join(pulling)}"] if pulling else []),
        *([] if webhooks or pulling else ["  channels     none configured yet (see README.md, Configuration)"]),
        f"  Kafka        {addresses.kafka_bootstrap}"
        + ("  embedded tansu broker: its log is IN MEMORY, topics are lost when it stops" if broker else ""),
        "  PostgreSQL   " + ("embedded, data in " + str(app_settings.data_dir / "postgres") if pg else "configured"),
        f"  data dir     {app_settings.data_dir}  (other commands with this OMNITRAIL_DATA_DIR find this stack)",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)


class _Server(uvicorn.Server):
    """uvicorn re-raises the stop signal after serving; the supervisor still has a stack to stop. The banner
    is printed once HTTP listens: "up" is a promise that the console and the webhooks answer."""

    def __init__(self, config: uvicorn.Config, banner: str = "") -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.banner:
            print(self.banner, flush=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM before/after serving: unwind through the cleanup below


class WorkerProcess:
    """``omnitrail worker`` as a child process, restarted if it exits unexpectedly."""

    def __init__(self, env: dict[str, str], command: str = "worker") -> None:
        self.env = env
        self.command = command
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False

    async def run(self) -> None:
        backoff = Backoff(1.0, 30.0)
        while not self.stopping:
            command = (sys.executable, "-m", "omnitrail", self.command)
            # SIGTERM when the supervisor dies, even by SIGKILL: it stops as when the supervisor stops it.
            died = parent_death.ended_with_us(signal.SIGTERM)
            self.proc = await asyncio.create_subprocess_exec(*command, env=self.env, preexec_fn=died)
            code = await self.proc.wait()
            if self.stopping:
                return
            delay = backoff.next()
            log.error(f"{self.command}.exited", code=code, restart_in=round(delay, 2))
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self.stopping = True
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _demo(kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    producer = clients.producer(
        kafka_settings.model_copy(update={"idempotence": addresses.idempotence}), addresses.kafka_bootstrap
    )
    await producer.start()
    try:
        count = await demo.ingest(KafkaEmitter(producer), addresses.database_url)
    finally:
        await producer.stop()
    print(
        f"Demo: {count} sample interactions sent; open the console and search for {demo.NAME} or 912 345 678",
        flush=True,
    )


async def serve(
    app_settings: AppSettings,
    kafka_settings: KafkaSettings,
    addresses: Addresses,
    env: dict[str, str],
    *,
    banner: str = "",
    demo_data: bool = False,
) -> None:
    roles = Roles(connectors=registry.enabled(app_settings), console=True, needs_pipeline=True)
    app = build_app(app_settings, kafka_settings, addresses, roles)
    server = _Server(server_config(app, app_settings), banner)
    worker = WorkerProcess(env)
    worker_task = asyncio.create_task(worker.run())
    media = WorkerProcess(env, "media")  # the media stage, restarted like the worker
    media_task = asyncio.create_task(media.run() if load(MediaSettings).enabled else asyncio.sleep(0))
    subscribed = subscriptions.configured()  # the sink runs only when someone subscribed
    sink_task = asyncio.create_task(subscriptions.serve(subscribed, kafka_settings, addresses)) if subscribed else None
    # The demo waits for the worker between its two steps: in the background, so HTTP starts at once.
    demo_task = asyncio.create_task(_demo(kafka_settings, addresses)) if demo_data else None
    memory_tuning.tune()
    try:
        await server.serve()
    finally:
        if demo_task:
            demo_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo_task
        if sink_task:
            sink_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sink_task
        for process, task in ((media, media_task), (worker, worker_task)):
            await process.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, *, demo: bool = False) -> None:
    data_dir = app_settings.data_dir.resolve()
    app_settings = app_settings.model_copy(update={"data_dir": data_dir})
    running = read_state(data_dir)
    if running is not None:
        raise FatalError(f"omnitrail up is already running (pid {running.pid}) with OMNITRAIL_DATA_DIR={data_dir}")
    if port_taken(app_settings.http_host, app_settings.http_port):
        raise FatalError(
            f"port {app_settings.http_port} on {app_settings.http_host} is already in use (another omnitrail up?): "
            "stop what holds it, or set OMNITRAIL_HTTP_PORT"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(log_path=data_dir / "broker.log") if kafka_settings.bootstrap is None else None
    pg = EmbeddedPostgres(data_dir / "postgres") if app_settings.database_url is None else None
    env = {**memory_tuning.MALLOC_ENV, **os.environ}  # glibc reads it at the worker's start
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if broker:
            broker.start()
            for name, value in EMBEDDED_TIMEOUTS.items():
                env.setdefault(name, value)
        database_url = pg.start() if pg else app_settings.database_url.get_secret_value()  # type: ignore[union-attr]
        addresses = Addresses(
            kafka_settings.bootstrap or (broker.bootstrap if broker else ""),
            database_url,
            kafka_settings.idempotence and broker is None,
        )
        env.update(
            OMNITRAIL_KAFKA_BOOTSTRAP=addresses.kafka_bootstrap,
            OMNITRAIL_DATABASE_URL=addresses.database_url,
            OMNITRAIL_KAFKA_IDEMPOTENCE=str(addresses.idempotence).lower(),
            OMNITRAIL_DATA_DIR=str(data_dir),
        )
        staff = asyncio.run(prepare(kafka_settings, addresses))
        write_state(
            data_dir,
            StackState(
                pid=os.getpid(),
                kafka_bootstrap=addresses.kafka_bootstrap,
                database_url=addresses.database_url,
                http_url=f"http://{app_settings.http_host}:{app_settings.http_port}",
                embedded_broker=broker is not None,
                embedded_database=pg is not None,
            ),
        )
        banner = _banner(app_settings, addresses, broker, pg is not None, staff)
        event_loop.run(serve(app_settings, kafka_settings, addresses, env, banner=banner, demo_data=demo))
    except KeyboardInterrupt:
        pass
    finally:
        clear_state(data_dir)
        if pg:
            pg.stop()
        if broker:
            broker.stop()
        log.info("omnitrail.stopped")
