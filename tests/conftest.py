"""Infrastructure for the suites that span services, picked in this order:

1. URLs from the environment (KAFKA_BROKERS, POSTGRES_URL, REDIS_URL): servers you run;
2. testcontainers, when a Docker engine answers;
3. local processes: Apache Kafka's jars under Java (tools/kafka), embedded Postgres and Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tools.kafka.broker import KafkaBroker

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:15.10-alpine"
REDIS_IMAGE = "redis:7.4.2-alpine"
DOCKER_PING_TIMEOUT_S = 2


def docker_engine_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, no engine: all mean "not here"
        return False


@pytest.fixture(scope="session")
def docker_available() -> bool:
    return docker_engine_available()


@pytest.fixture(scope="session")
def kafka_bootstrap(docker_available: bool) -> Iterator[str]:
    given = os.environ.get("KAFKA_BROKERS")
    if given:
        yield given
        return
    if docker_available:
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    with KafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def fleet_datastores(docker_available: bool) -> Iterator[dict[str, str]]:
    """POSTGRES_URL/REDIS_URL for the integration fleet: given, containers, or {} (embedded)."""
    given = {k: os.environ[k] for k in ("POSTGRES_URL", "REDIS_URL") if os.environ.get(k)}
    if given or not docker_available:
        yield given
        return
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    with PostgresContainer(POSTGRES_IMAGE, driver=None) as pg, RedisContainer(REDIS_IMAGE) as redis:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield {"POSTGRES_URL": pg.get_connection_url(), "REDIS_URL": f"redis://{host}:{port}/0"}
