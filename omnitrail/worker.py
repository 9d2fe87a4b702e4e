"""``omnitrail worker``: the faust pipeline with its database pool and publisher."""

from __future__ import annotations

from typing import Any

import faust
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from omnitrail import kafka
from omnitrail.gdpr_settings import GdprSettings
from omnitrail.metrics_server import serve_metrics
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings, KafkaSettings
from pipeline.app import WorkerConfig, create_app
from pipeline.batch import BatchProcessor
from pipeline.identity_settings import IdentitySettings
from pipeline.poison import PoisonIsolation
from pipeline.stages.erasure_guard import ErasureGuard
from pipeline.suggestion_engine import SuggestionEngine
from pipeline.suggestion_settings import SuggestionSettings
from schemas.config import load
from sinks import checkpoint_age, heartbeat
from sinks.publisher import TopicPublisher

Conn = AsyncConnection[tuple[Any, ...]]


def build(
    app_settings: AppSettings,
    kafka_settings: KafkaSettings,
    addresses: Addresses,
    suggestion_settings: SuggestionSettings | None = None,
) -> faust.App:
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    suggestion_settings = suggestion_settings or load(SuggestionSettings)
    # Validated here, at start-up, so a bad identity policy stops the worker with a clear message.
    policy = load(IdentitySettings).policy(app_settings.default_region)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=6, open=False, kwargs={"autocommit": True}
    )

    async def processor() -> PoisonIsolation:
        await pool.open(wait=False)
        producer = kafka.producer(kafka_settings, addresses.kafka_bootstrap)
        await producer.start()
        publish = TopicPublisher(producer).publish
        hasher = load(GdprSettings).hasher()
        guard = ErasureGuard(pool, hasher) if hasher is not None else None
        return PoisonIsolation(BatchProcessor(pool, publish, policy=policy, guard=guard), publish)

    async def suggestions() -> SuggestionEngine:
        await pool.open(wait=False)
        producer = kafka.producer(kafka_settings, addresses.kafka_bootstrap)
        await producer.start()
        return SuggestionEngine(
            pool,
            TopicPublisher(producer).publish,
            suggestion_settings.policy(),
            history_limit=suggestion_settings.history_limit,
        )

    async def beat(worker_id: str, assignment: str) -> None:
        await pool.open(wait=False)
        async with pool.connection() as conn:
            await heartbeat.beat(conn, worker_id, assignment)
            await checkpoint_age.report(conn)

    config = WorkerConfig(
        bootstrap=addresses.kafka_bootstrap,
        batch_size=app_settings.worker_batch_size,
        batch_window_s=app_settings.worker_batch_window_ms / 1000,
        session_timeout_s=kafka_settings.session_timeout_s,
        heartbeat_interval_s=kafka_settings.heartbeat_interval_s,
        rebalance_timeout_s=kafka_settings.rebalance_timeout_s,
        request_timeout_s=kafka_settings.request_timeout_s,
        idempotence=addresses.idempotence,
        security_protocol=kafka_settings.security_protocol,
        sasl_mechanism=kafka_settings.sasl_mechanism,
        sasl_username=kafka_settings.sasl_username,
        sasl_password=kafka_settings.sasl_password.get_secret_value() if kafka_settings.sasl_password else None,
        ssl_cafile=str(kafka_settings.ssl_cafile) if kafka_settings.ssl_cafile else None,
        worker_id=app_settings.worker_id,
    )
    return create_app(
        config,
        processor,
        beat,
        suggestions=suggestions if suggestion_settings.enabled else None,
        suggestions_tick_s=suggestion_settings.tick_interval_s,
    )


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    app = build(app_settings, kafka_settings, addresses)
    serve_metrics(app_settings.worker_metrics_port, app_settings.http_host, role="worker")
    worker = faust.Worker(app, loglevel=app_settings.log_level.upper(), override_logging=False, quiet=True)
    worker.execute_from_commandline()
