"""The event contract suite runs once per transport: Redis Streams in `make test`, Kafka
(marked integration) in `make test-integration`, on KAFKA_BROKERS or on a real broker
started from Apache Kafka's jars by tools/kafka/broker.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from paykit.config import ServiceSettings
from paykit.db import create_pool
from paykit.events import KafkaTransport, RedisStreamsTransport, Transport

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA = "contract"


@pytest.fixture
async def pool(database_factory) -> AsyncIterator[asyncpg.Pool]:
    url = database_factory.create(SCHEMA, MIGRATIONS)
    settings = ServiceSettings(service_name="contract", postgres_url=url, db_schema=SCHEMA, db_pool_max=8)
    pool = await create_pool(settings)
    try:
        yield pool
    finally:
        await pool.close()
        database_factory.drop(url)


TransportFactory = Callable[[], Transport]


@pytest.fixture(params=["redis", pytest.param("kafka", marks=pytest.mark.integration)])
async def new_transport(request: pytest.FixtureRequest) -> AsyncIterator[TransportFactory]:
    """Makes transports to one broker (each like a separate process); closes them after."""
    made: list[Transport] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")

        def make() -> Transport:
            made.append(RedisStreamsTransport.from_url(url, claim_idle_ms=500))
            return made[-1]
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")

        def make() -> Transport:
            made.append(KafkaTransport(bootstrap, client_id=f"contract-{uuid.uuid4().hex[:6]}"))
            return made[-1]

    yield make
    for transport in made:
        await transport.aclose()


@pytest.fixture
def topic() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"
