"""``omnitrail worker``: the pipeline's consumers with their database pool and publishers."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from psycopg_pool import AsyncConnectionPool

from omnitrail import event_loop, memory_tuning
from omnitrail.gdpr_settings import GdprSettings
from omnitrail.metrics_server import serve_metrics
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from pipeline.batch import BatchProcessor
from pipeline.erasure_guard import ErasureGuard
from pipeline.identity_settings import IdentitySettings
from pipeline.poison import PoisonIsolation
from pipeline.runner import PipelineRunner, RunnerConfig, run_until_signalled
from pipeline.suggestion_engine import SuggestionEngine
from pipeline.suggestion_settings import SuggestionSettings
from schemas.config import load
from sinks import checkpoint_age, heartbeat, update_store
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.settings import KafkaSettings


def build(
    app_settings: AppSettings,
    kafka_settings: KafkaSettings,
    addresses: Addresses,
    suggestion_settings: SuggestionSettings | None = None,
) -> PipelineRunner:
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    suggestion_settings = suggestion_settings or load(SuggestionSettings)
    # Validated here, at start-up, so a bad identity policy stops the worker with a clear message.
    policy = load(IdentitySettings).policy(app_settings.default_region)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=6, open=False, kwargs={"autocommit": True}
    )

    producers: list[AIOKafkaProducer] = []

    async def started_producer() -> AIOKafkaProducer:
        producer = clients.producer(kafka_settings, addresses.kafka_bootstrap)
        await producer.start()
        producers.append(producer)
        return producer

    async def processor() -> PoisonIsolation:
        await pool.open(wait=False)
        producer = await started_producer()
        publish = TopicPublisher(producer).publish
        hasher = load(GdprSettings).hasher()
        guard = ErasureGuard(hasher) if hasher is not None else None
        return PoisonIsolation(BatchProcessor(pool, publish, policy=policy, guard=guard), publish)

    async def suggestions() -> SuggestionEngine:
        await pool.open(wait=False)
        producer = await started_producer()
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
            await update_store.expire(conn)  # updates whose target never came (see PARKED_DAYS)

    async def cleanup() -> None:
        for producer in producers:
            await producer.stop()
        await pool.close()

    config = RunnerConfig(
        kafka_options=clients.client_options(kafka_settings, addresses.kafka_bootstrap),
        batch_size=app_settings.worker_batch_size,
        batch_window_s=app_settings.worker_batch_window_ms / 1000,
        lanes=app_settings.worker_lanes,
        fetch_max_wait_s=kafka_settings.fetch_max_wait_ms / 1000,
        session_timeout_s=kafka_settings.session_timeout_s,
        heartbeat_interval_s=kafka_settings.heartbeat_interval_s,
        rebalance_timeout_s=kafka_settings.rebalance_timeout_s,
        worker_id=app_settings.worker_id,
    )
    return PipelineRunner(
        config,
        processor,
        beat,
        suggestions=suggestions if suggestion_settings.enabled else None,
        suggestions_tick_s=suggestion_settings.tick_interval_s,
        cleanup=cleanup,
    )


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    runner = build(app_settings, kafka_settings, addresses)
    serve_metrics(app_settings.worker_metrics_port, app_settings.http_host, role="worker")
    memory_tuning.tune()
    event_loop.run(run_until_signalled(runner))
