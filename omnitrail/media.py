"""``omnitrail media``: the media stage as a process, wired to the channels' credentials.

The stage itself lives in :mod:`pipeline.media`; this module gives it the object store, a
database pool, a producer for the outbox and dead letters, and the credentials each channel's
connector settings hold (Twilio's auth token, Telegram's bots; the Graph API token is a media
setting, since the Meta connector itself needs none). ``omnitrail up`` runs it as a child process,
like the worker.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from psycopg_pool import AsyncConnectionPool

from connectors.telegram.settings import TelegramSettings
from connectors.twilio.settings import TwilioSettings
from omnitrail import event_loop
from omnitrail.metrics_server import serve_metrics
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from pipeline.media.fetch import AllowList, Fetcher
from pipeline.media.sources import Credentials, TelegramBot
from pipeline.media.stage import MediaStage, Policy
from pipeline.runner import RunnerConfig, run_until_signalled
from schemas import topics
from schemas.config import load
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.consumer import BatchConsumer
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.settings import KafkaSettings
from sinks.media.settings import MediaSettings
from sinks.media.store import MediaStore

GROUP = "omnitrail-media"
#: How often files left unreferenced by erasures and purges are deleted from the store.
SWEEP_EVERY_S = 10.0


def credentials(settings: MediaSettings) -> Credentials:
    twilio = load(TwilioSettings)
    bots = load(TelegramSettings).bots_configured()
    return Credentials(
        twilio_auth_token=twilio.auth_token.get_secret_value() if twilio.auth_token else None,
        graph_api_url=settings.graph_api_url,
        meta_access_token=settings.meta_access_token.get_secret_value() if settings.meta_access_token else None,
        telegram={bot.bot_id: TelegramBot(bot.token.get_secret_value(), bot.api_url) for bot in bots},
    )


def policy(settings: MediaSettings) -> Policy:
    """Tries, the first wait between them, fetches at once (``OMNITRAIL_MEDIA_ATTEMPTS`` and its neighbours)."""
    return Policy(attempts=settings.attempts, retry_first_s=settings.retry_first_s, concurrency=settings.concurrency)


def fetcher(settings: MediaSettings, spool_dir: Path) -> Fetcher:
    timeout = httpx.Timeout(settings.timeout_s)
    # No environment proxies or .netrc: media requests go straight to the allow-listed hosts.
    client = httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)
    return Fetcher(
        client,
        AllowList(settings.hosts(), allow_http=settings.allow_http),
        max_bytes=settings.max_bytes,
        spool_dir=spool_dir,
    )


async def serve(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    """Consume the timeline and keep attachments until SIGTERM/SIGINT."""
    settings = load(MediaSettings)
    kafka_settings = kafka_settings.model_copy(update={"idempotence": addresses.idempotence})
    data_dir = app_settings.data_dir.resolve()
    store = MediaStore.configured(settings, data_dir)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        addresses.database_url, min_size=1, max_size=settings.concurrency + 1, open=False, kwargs={"autocommit": True}
    )
    producer = clients.producer(kafka_settings, addresses.kafka_bootstrap)
    fetch = fetcher(settings, data_dir / "media-spool")
    config = RunnerConfig(
        kafka_options=clients.client_options(kafka_settings, addresses.kafka_bootstrap),
        batch_size=64,
        batch_window_s=0.0,
        lanes=1,
        session_timeout_s=kafka_settings.session_timeout_s,
        heartbeat_interval_s=kafka_settings.heartbeat_interval_s,
        rebalance_timeout_s=kafka_settings.rebalance_timeout_s,
        fetch_max_wait_s=kafka_settings.fetch_max_wait_ms / 1000,
        group_id=GROUP,
    )
    await pool.open(wait=False)
    await producer.start()
    try:
        stage = MediaStage(
            pool,
            TopicPublisher(producer).publish,
            store,
            fetch,
            credentials(settings),
            policy(settings),
        )
        consumer = BatchConsumer(
            topics.TIMELINE, GROUP, stage.handle_records, config.consumer_options(), batch_size=config.batch_size
        )
        sweeper = asyncio.create_task(stage.sweep_every(SWEEP_EVERY_S))
        try:
            await run_until_signalled(consumer)
        finally:
            sweeper.cancel()
    finally:
        await fetch.client.aclose()
        await producer.stop()
        await pool.close()


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    serve_metrics(load(MediaSettings).metrics_port, app_settings.http_host, role="media")
    # httpx logs every request's URL at INFO, and media URLs carry tokens (Telegram's is in the path).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    event_loop.run(serve(app_settings, kafka_settings, addresses))
