"""docker-compose.yml as local processes (tools/stack/processes.py), once per session: every
service with exactly its compose environment in production mode, behind nginx with the compose
nginx.conf, on a Postgres bootstrapped by the compose init scripts, with its own Kafka broker,
a real Jaeger receiving every service's traces and a real Prometheus scraping them.

Run apart from the other integration tests (`make test-integration` runs it second): it binds
127.0.10.N addresses only, but its own broker and fleet double the machine's load."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.devstack.nginx import find_nginx
from tools.kafka.broker import KafkaBroker
from tools.stack.processes import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    if find_nginx() is None:
        pytest.fail("the stack test needs nginx (apt-get install nginx)")
    work_dir = Path(tempfile.mkdtemp(prefix="stack-"))
    with KafkaBroker() as broker:
        local = LocalStack(work_dir, kafka_bootstrap=broker.bootstrap, with_jaeger=True, with_prometheus=True)
        try:
            local.start()
            local.load_demo_data()
            yield local
        finally:
            local.stop()
            shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture
def edge(stack: LocalStack) -> Iterator[httpx.Client]:
    """A client of the stack's front door: nginx on 443, as the internet meets it. The
    certificate is the self-signed one docker/nginx-selfsigned-cert.sh makes (for localhost)."""
    with httpx.Client(base_url=stack.nginx_https, timeout=40, verify=False, trust_env=False) as client:  # noqa: S501
        yield client
