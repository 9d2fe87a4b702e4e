"""The one FastAPI app per process: webhooks and API mounted by what is enabled, plus health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from connectors.base import PushConnector
from connectors.emitter import KafkaEmitter
from connectors.webhook import WebhookIngest
from console import api as console_api
from console.auth import TokenAuth
from omnitrail import __version__, kafka
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings, KafkaSettings
from sinks import heartbeat, migrate

log = structlog.get_logger(__name__)
Conn = AsyncConnection[tuple[Any, ...]]


@dataclass
class Roles:
    """What this process serves; readiness checks exactly what it needs."""

    connectors: list[PushConnector] = field(default_factory=list)
    console: bool = False
    needs_pipeline: bool = False

    @property
    def needs_database(self) -> bool:
        return self.console or self.needs_pipeline


def build_app(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses, roles: Roles) -> FastAPI:
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    producer = kafka.producer(kafka_settings, addresses.kafka_bootstrap)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
    )
    emitter = KafkaEmitter(producer)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await producer.start()
        if roles.needs_database:
            await pool.open(wait=False)
        try:
            yield
        finally:
            await producer.stop()
            await pool.close()

    app = FastAPI(title="Omnitrail", version=__version__, lifespan=lifespan)
    ingest = WebhookIngest(emitter, public_url=app_settings.public_url, max_body_bytes=app_settings.max_body_bytes)
    for connector in roles.connectors:
        app.include_router(connector.router(ingest))
    if roles.console:
        app.include_router(
            console_api.router(
                pool.connection, TokenAuth(app_settings.tokens()), default_region=app_settings.default_region
            )
        )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up and serving. Says nothing about its dependencies: see /readyz."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        """200 only when every dependency this process needs is ready: broker, migrated database, pipeline."""
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
                    checks["database"] = "ok" if version >= migrate.LATEST else f"not migrated ({version})"
                    if roles.needs_pipeline:
                        live = await heartbeat.live_workers(conn, within_seconds=10)
                        checks["pipeline"] = "ok" if live else "no live worker"
            except Exception as exc:
                checks["database"] = f"unavailable: {type(exc).__name__}"
                if roles.needs_pipeline:
                    checks.setdefault("pipeline", "unknown")
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
