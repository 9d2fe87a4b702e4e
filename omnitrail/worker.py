"""``omnitrail worker``: the faust pipeline with its database pool and publisher."""

from __future__ import annotations

from typing import Any

import faust
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from omnitrail import kafka
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings, KafkaSettings
from pipeline.app import WorkerConfig, create_app
from pipeline.batch import BatchProcessor
from sinks import heartbeat
from sinks.publisher import TopicPublisher

Conn = AsyncConnection[tuple[Any, ...]]


def build(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> faust.App:
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
    )

    async def processor() -> BatchProcessor:
        await pool.open(wait=False)
        producer = kafka.producer(kafka_settings, addresses.kafka_bootstrap)
        await producer.start()
        return BatchProcessor(pool, TopicPublisher(producer).publish)

    async def beat(worker_id: str, assignment: str) -> None:
        await pool.open(wait=False)
        async with pool.connection() as conn:
            await heartbeat.beat(conn, worker_id, assignment)

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
    return create_app(config, processor, beat)


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    app = build(app_settings, kafka_settings, addresses)
    worker = faust.Worker(app, loglevel=app_settings.log_level.upper(), override_logging=False, quiet=True)
    worker.execute_from_commandline()
