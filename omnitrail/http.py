"""The one FastAPI app per process: webhooks and API mounted by what is enabled, plus health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import AsyncConnectionPool

from connectors import deadletter_bodies, signing
from connectors.base import AnyConnector
from connectors.deadletter_bodies import DeadLetterBodies
from connectors.emitter import KafkaEmitter
from connectors.pull import PullLoop
from connectors.spool import SpoolFile, SpoolingEmitter
from connectors.spool_settings import SpoolSettings
from connectors.webhook import WebhookIngest, serve
from console.app import Console
from omnitrail import __version__, registry
from omnitrail.gdpr_settings import GdprSettings
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from omnitrail.webhook_fast_path import WebhookFastPath
from schemas import topics
from schemas.config import load
from schemas.errors import RetriableError
from sinks import heartbeat, migrate, outbox
from sinks.checkpoint_store import PostgresCheckpoints
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.settings import KafkaSettings
from sinks.media.settings import MediaSettings
from sinks.media.store import MediaStore

log = structlog.get_logger(__name__)


@dataclass
class Roles:
    """What this process serves; readiness checks exactly what it needs."""

    connectors: list[AnyConnector] = field(default_factory=list)
    console: bool = False
    needs_pipeline: bool = False

    @property
    def pulling(self) -> list[AnyConnector]:
        return [c for c in self.connectors if c.pulls]

    @property
    def needs_database(self) -> bool:
        # Pull connectors keep their checkpoints in PostgreSQL.
        return self.console or self.needs_pipeline or bool(self.pulling)


def outbox_drainer(pool: AsyncConnectionPool[Conn], producer: AIOKafkaProducer) -> outbox.Drain:
    """Publish what this process committed to the outbox; if the broker is down, a later drain sends it."""
    publisher = TopicPublisher(producer)

    async def drain() -> None:
        try:
            await outbox.drain(pool, publisher.publish)
        except RetriableError as exc:
            log.warning("outbox.drain_deferred", error=str(exc))

    return drain


async def _pipeline(conn: Conn, producer: AIOKafkaProducer) -> str:
    """Says ok when live workers hold every partition of the interactions topic: a worker that is up but has not
    joined its group yet (a first start takes seconds) moves no interaction onto the timeline."""
    partitions = producer.client.cluster.partitions_for_topic(topics.INTERACTIONS)
    if not partitions:
        return f"{topics.INTERACTIONS} unknown to the broker"
    missing = sorted(set(partitions) - await heartbeat.held_partitions(conn, within_seconds=10))
    return f"partitions not held by a live worker: {','.join(map(str, missing))}" if missing else "ok"


def build_app(
    app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses, roles: Roles
) -> WebhookFastPath:
    """The process's app, behind the fast path that dispatches its signed webhook POSTs ahead of FastAPI's stack."""
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    producer = clients.producer(kafka_settings, addresses.kafka_bootstrap)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
    )
    emitter = KafkaEmitter(producer, bodies=DeadLetterBodies(app_settings.data_dir / deadletter_bodies.DIRECTORY))
    # Pull loops keep the plain emitter: on a broker outage they pause and resume from their checkpoints.
    loops = [PullLoop(c, emitter, PostgresCheckpoints(pool)) for c in roles.pulling]
    registry.share_memory(roles.pulling, pool)
    if load(MediaSettings).enabled:
        registry.keep_attachments(
            roles.pulling, MediaStore.configured(load(MediaSettings), app_settings.data_dir).put_bytes
        )
    console = (
        Console(
            tokens=app_settings.tokens(),
            connection=pool.connection,
            emitter=emitter,
            drain=outbox_drainer(pool, producer),
            kafka_options=clients.client_options(kafka_settings, addresses.kafka_bootstrap),
            hasher=load(GdprSettings).hasher(),
            default_region=app_settings.default_region,
            secure_cookie=app_settings.public_url.startswith("https://"),
            public_url=app_settings.public_url,
            max_body_bytes=app_settings.max_body_bytes,
            body_timeout_s=app_settings.body_timeout_s,
            data_dir=app_settings.data_dir,
        )
        if roles.console
        else None
    )
    ingest = WebhookIngest(
        emitter,
        public_url=app_settings.public_url,
        max_body_bytes=app_settings.max_body_bytes,
        body_timeout_s=app_settings.body_timeout_s,
    )
    routes = [route for connector in roles.connectors for route in connector.routes()]
    webhooks, endpoints = serve(routes, [answer for c in roles.connectors for answer in c.answers()], ingest)
    # Only a process that takes webhooks needs a spool (and a spool file).
    spool = _spool(app_settings, emitter) if routes else None
    if spool is not None:
        ingest.emitter = spool

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await producer.start()
        if roles.needs_database:
            await pool.open(wait=False)
        tasks = [asyncio.create_task(loop.run(), name=f"pull:{loop.connector.name}") for loop in loops]
        if console is not None:
            tasks.append(asyncio.create_task(console.run(), name="console:live"))
        if spool is not None:
            tasks.append(asyncio.create_task(spool.run(), name="spool:drain"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
            await pool.close()
            if spool is not None:
                spool.close()

    # The interactive docs pages load Swagger UI and ReDoc from a CDN: off unless asked for.
    docs = app_settings.api_docs
    app = FastAPI(
        title="Omnitrail",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )

    @app.exception_handler(psycopg.DataError)
    async def unstorable_value(_: Request, exc: psycopg.DataError) -> Response:
        # A request value PostgreSQL cannot hold or compare (a NUL character, a number past bigint):
        # the caller's input is wrong, so 422 like any other invalid value, never a 500.
        log.info("api.unstorable_value", error=type(exc).__name__)
        return JSONResponse({"detail": "a value in the request cannot be stored or compared"}, status_code=422)

    app.include_router(webhooks)
    if console is not None:
        console.install(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up and serving. Says nothing about its dependencies: see /readyz."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        """200 only when every dependency this process needs is ready: broker, migrated database, pipeline, and
        (in a process that takes no webhooks) its pull loops not stopped."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), 3)
            checks["broker"] = "ok"
        except Exception as exc:  # any failure means not ready; the name says which
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        if roles.needs_database:
            try:
                async with asyncio.timeout(3), pool.connection() as conn:
                    version = await migrate.applied_version(conn)
                    checks["database"] = "ok" if version >= migrate.REQUIRED else f"not migrated ({version})"
                    if roles.needs_pipeline:
                        checks["pipeline"] = await _pipeline(conn, producer)
            except Exception as exc:
                checks["database"] = f"unavailable: {type(exc).__name__}"
                if roles.needs_pipeline:
                    checks.setdefault("pipeline", "unknown")
        # A spooling process still takes webhooks durably: the broker outage is reported, not gating,
        # so a load balancer keeps sending providers here rather than nowhere.
        gating = {k: v for k, v in checks.items() if not (k == "broker" and spool is not None)}
        # A pull loop that stopped (bad credentials, a bug) reads nothing until a restart: a process that only
        # pulls is not ready then; one that also takes webhooks says so but stays in service for them.
        stopped = any(loop.health.state.startswith("stopped") for loop in loops)
        ready = all(v == "ok" for v in gating.values()) and not (stopped and not routes)
        body: dict[str, Any] = {"ready": ready, "checks": checks}
        if spool is not None:
            body["spool"] = spool.health()
        body["degraded"] = checks["broker"] != "ok" or bool(spool and spool.spooling) or stopped
        if loops:
            body["pull"] = {loop.connector.name: loop.health.state for loop in loops}
            accounts = {loop.connector.name: loop.connector.account_states() for loop in loops}
            body["accounts"] = {name: states for name, states in accounts.items() if states}
        return JSONResponse(body, status_code=200 if ready else 503)

    metrics_token = app_settings.metrics_token.get_secret_value().encode() if app_settings.metrics_token else None

    @app.get("/metrics", tags=["operations"])
    async def metrics(request: Request) -> Response:
        """Prometheus exposition; with OMNITRAIL_METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
        if metrics_token is not None:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not signing.equal(presented.strip(), metrics_token):
                return JSONResponse(
                    {"detail": "missing or invalid bearer token"}, 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
                )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return WebhookFastPath(app, endpoints)


def _spool(app_settings: AppSettings, emitter: KafkaEmitter) -> SpoolingEmitter | None:
    settings = load(SpoolSettings)
    if not settings.enabled:
        return None
    return SpoolingEmitter(
        emitter,
        SpoolFile(settings.file(app_settings.data_dir)),
        ack_timeout_s=settings.ack_timeout_s,
        drain_batch=settings.drain_batch,
    )
