"""``omnitrail gdpr erase|export CONTACT``: the same operations as the admin API, for operators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from omnitrail.runtime import Addresses
from sinks import contact_export, erasure, export_archive, outbox, retention
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.publisher import TopicPublisher
from sinks.kafka.settings import KafkaSettings
from sinks.media import deletions
from sinks.media.store import MediaStore


async def erase(
    kafka_settings: KafkaSettings,
    addresses: Addresses,
    contact_id: uuid.UUID,
    hasher: erasure.IdentifierHasher,
    store: MediaStore,
) -> erasure.Erasure | None:
    """Erase, then publish the erasure's events (the outbox keeps them if the broker is away) and delete
    her files from the object store (the media stage's sweep does it if this is interrupted)."""
    async with AsyncConnectionPool[Conn](
        addresses.database_url, min_size=1, max_size=2, kwargs={"autocommit": True}
    ) as pool:
        async with pool.connection() as conn:
            done = await erasure.erase(conn, contact_id, hasher, requested_by="cli")
        if done is None:
            return None
        producer = clients.producer(
            kafka_settings.model_copy(update={"idempotence": addresses.idempotence}), addresses.kafka_bootstrap
        )
        await producer.start()
        try:
            await outbox.drain(pool, TopicPublisher(producer).publish)
        finally:
            await producer.stop()
        await deletions.sweep(pool.connection, store)
    return done


async def export(addresses: Addresses, contact_id: uuid.UUID) -> dict[str, Any] | None:
    async with await AsyncConnection.connect(addresses.database_url, autocommit=True) as conn:
        return await contact_export.export(conn, contact_id)


async def export_with_files(
    addresses: Addresses, contact_id: uuid.UUID, store: MediaStore, zip_path: Path
) -> tuple[dict[str, Any], int] | None:
    """Write the export and her kept files as a zip at ``zip_path`` (whole or not at all: it is written
    next to it and moved in); the document and how many files it holds, or None when no such contact."""
    document = await export(addresses, contact_id)
    if document is None:
        return None
    partial = zip_path.with_name(zip_path.name + ".part")
    try:
        with partial.open("wb") as out:
            files = await export_archive.write(document, store, out)
        partial.replace(zip_path)
    finally:
        partial.unlink(missing_ok=True)
    return document, files


async def purge(
    addresses: Addresses, max_age: dict[str, timedelta], store: MediaStore, *, dry_run: bool
) -> dict[str, int]:
    """Purge, then delete the files of the purged attachments from the object store."""
    async with AsyncConnectionPool[Conn](
        addresses.database_url, min_size=1, max_size=1, kwargs={"autocommit": True}
    ) as pool:
        async with pool.connection() as conn:
            purged = await retention.purge(conn, max_age, now=datetime.now(UTC), dry_run=dry_run)
        if not dry_run:
            await deletions.sweep(pool.connection, store)
    return purged
