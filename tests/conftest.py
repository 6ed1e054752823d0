"""Infrastructure for the suites that span services, picked in this order:

1. URLs from the environment (KAFKA_BROKERS, POSTGRES_URL, REDIS_URL): servers you run;
2. testcontainers, when a Docker engine answers;
3. local processes: Apache Kafka's jars under Java (tools/kafka), embedded Postgres and Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.kafka.broker import KafkaBroker

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
# The compose stack's images (docker-compose.yml), tag and digest.
POSTGRES_IMAGE = (
    "postgres:15.13-alpine@sha256:1414298ea93186123a6dcf872f778ba3bd2347edcbd2f31aa7bb2d9814ff5393"
)
REDIS_IMAGE = "redis:7.4.2-alpine@sha256:02419de7eddf55aa5bcf49efb74e88fa8d931b4d77c07eff8a6b2144472b6952"
DOCKER_PING_TIMEOUT_S = 2


def docker_engine_available() -> bool:
    """An engine answers its /_ping (on DOCKER_HOST, or the default unix socket)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            if not Path(host.removeprefix("unix://")).exists():
                return False
            transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"))
            with httpx.Client(transport=transport, timeout=DOCKER_PING_TIMEOUT_S) as client:
                return client.get("http://docker/_ping").status_code == 200
        base = host.replace("tcp://", "http://", 1)
        with httpx.Client(timeout=DOCKER_PING_TIMEOUT_S) as client:
            return client.get(f"{base}/_ping").status_code == 200
    except httpx.HTTPError:  # no socket, no permission, no engine: all mean "not here"
        return False


@pytest.fixture(scope="session")
def docker_available() -> bool:
    return docker_engine_available()


@pytest.fixture(scope="session")
def kafka_process() -> dict[str, KafkaBroker]:
    """The broker this session started (empty when given or in a container): the fault suite kills it."""
    return {}


@pytest.fixture(scope="session")
def kafka_bootstrap(docker_available: bool, kafka_process: dict[str, KafkaBroker]) -> Iterator[str]:
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
        kafka_process["broker"] = broker
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
