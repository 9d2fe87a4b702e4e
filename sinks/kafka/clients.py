"""Kafka clients built from settings: producers with ``acks=all`` and the topic administration."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas import topics
from sinks.kafka.partitioner import Murmur2Partitioner
from sinks.kafka.settings import KafkaSettings

log = structlog.get_logger(__name__)

#: Retention of each topic. Interactions and timeline events carry personal data: keep them no
#: longer than replay and downstream catch-up need (7 days); dead letters long enough to fix and replay.
RETENTION_MS = {
    topics.INTERACTIONS: 7 * 86_400_000,
    topics.TIMELINE: 7 * 86_400_000,
    topics.DEADLETTER: 30 * 86_400_000,
    topics.SUGGESTIONS: 7 * 86_400_000,
}

#: The largest record (as one batch on the wire, headers included) any producer of ours sends: Apache Kafka's
#: default ``message.max.bytes`` (broker) and ``max.message.bytes`` (topic) are 1,048,588, so a record within
#: this fits a broker left at its defaults. A bigger one is never sent (``schemas.errors.RecordTooLarge``);
#: raising it needs the topics' ``max.message.bytes`` raised first (docs/operations.md, "Record size").
MAX_RECORD_BYTES = 1_048_576


def client_options(settings: KafkaSettings, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": int(settings.request_timeout_s * 1000),
    }
    if "SSL" in settings.security_protocol:
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return options


def producer(settings: KafkaSettings, bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings, bootstrap),
        acks="all",
        enable_idempotence=settings.idempotence,
        linger_ms=settings.linger_ms,
        max_batch_size=MAX_RECORD_BYTES,
        max_request_size=MAX_RECORD_BYTES,
        partitioner=Murmur2Partitioner(),  # the default's placement, at half its CPU (sinks/kafka/partitioner.py)
    )


def topic_specs(settings: KafkaSettings) -> list[NewTopic]:
    specs = []
    for name in topics.ALL:
        configs = (
            {"cleanup.policy": "compact"} if name in topics.COMPACTED else {"retention.ms": str(RETENTION_MS[name])}
        )
        specs.append(NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=configs))
    return specs


async def create_topics(settings: KafkaSettings, bootstrap: str, specs: list[NewTopic] | None = None) -> list[str]:
    """Create every topic (the pipeline's, or ``specs``) that does not exist yet; return the names
    created now. Idempotent."""
    admin = AIOKafkaAdminClient(**client_options(settings, bootstrap))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in (topic_specs(settings) if specs is None else specs) if spec.name not in existing]
        if missing:
            # A concurrent `topics create` may have made them meanwhile: the goal is reached.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("topics.created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
