"""``omnitrail sink webhooks`` and its operator commands: the subscription sink (signed outgoing POSTs) as a role.

The sink itself lives in :mod:`sinks.subscriptions`; this module wires it to the settings, the
Kafka client options and a small PostgreSQL pool (undelivered events), and runs it until SIGTERM.
``omnitrail up`` runs the same coroutine in its own process when subscribers are configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from omnitrail.metrics_server import serve_metrics
from omnitrail.runtime import Addresses
from omnitrail.settings import AppSettings
from schemas.config import load
from schemas.errors import FatalError
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.subscriptions import undelivered
from sinks.subscriptions.delivery import Deliverer
from sinks.subscriptions.settings import SubscriptionSettings
from sinks.subscriptions.sink import SubscriptionSink


def _pool(addresses: Addresses) -> AsyncConnectionPool[Conn]:
    return AsyncConnectionPool(addresses.database_url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True})


async def serve(settings: SubscriptionSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    """Run every subscriber until cancelled."""
    pool = _pool(addresses)
    await pool.open(wait=False)
    try:
        options = clients.client_options(kafka_settings, addresses.kafka_bootstrap)
        await SubscriptionSink(settings, options, pool.connection).run()
    finally:
        await pool.close()


def configured() -> SubscriptionSettings | None:
    """The sink's settings when at least one subscriber is configured (what ``up`` asks)."""
    settings = load(SubscriptionSettings)
    return settings if settings.subscribers else None


def run(app_settings: AppSettings, kafka_settings: KafkaSettings, addresses: Addresses) -> None:
    settings = configured()
    if settings is None:
        raise FatalError("OMNITRAIL_WEBHOOKS_SUBSCRIBERS: no subscriber configured, nothing to deliver to")
    serve_metrics(settings.metrics_port, app_settings.http_host, role="webhooks")
    # httpx logs every request at INFO: the sink's own events (retries, undelivered) say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve(settings, kafka_settings, addresses)

    asyncio.run(main())


async def listing(addresses: Addresses, subscriber: str | None) -> list[undelivered.Undelivered]:
    async with await AsyncConnection.connect(addresses.database_url, autocommit=True) as conn:
        return await undelivered.listing(conn, subscriber)


async def redeliver(addresses: Addresses, subscriber_name: str) -> tuple[int, int]:
    """Send a subscriber's undelivered events again, oldest first, removing each one delivered; (delivered, failing)."""
    settings = load(SubscriptionSettings)
    subscriber = next((s for s in settings.subscribers if s.name == subscriber_name), None)
    if subscriber is None:
        raise FatalError(f"OMNITRAIL_WEBHOOKS_SUBSCRIBERS: no subscriber named {subscriber_name!r}")
    delivered = failed = 0
    async with (
        await AsyncConnection.connect(addresses.database_url, autocommit=True) as conn,
        httpx.AsyncClient() as client,
    ):
        deliverer = Deliverer(client, settings)
        for row in await undelivered.listing(conn, subscriber_name):
            if row.event_id is None:
                failed += 1
                continue
            result = await deliverer.deliver(
                subscriber, row.body, event_id=row.event_id, event_type=row.event_type or ""
            )
            if result.delivered:
                await undelivered.remove(conn, row.undelivered_id)
                delivered += 1
            else:
                failed += 1
    return delivered, failed
