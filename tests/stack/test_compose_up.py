"""The real `docker compose up` (with the demo override), for a machine with a Docker engine:
`make test-compose`. Not part of `make test-integration`: CI here has no engine, and the
process stack (test_stack.py) is what runs there. Same checks: every container healthy, a
payment through nginx on the published port 80."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import docker_engine_available
from tools.stack import compose

from .checks import pay_once_through_the_edge

pytestmark = pytest.mark.compose_up
UP_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def compose_stack() -> Iterator[str]:
    if not docker_engine_available():
        pytest.fail("`make test-compose` needs a Docker engine (DOCKER_HOST or /var/run/docker.sock)")
    from testcontainers.compose import DockerCompose

    with tempfile.TemporaryDirectory(prefix="compose-env-") as tmp:
        env_file = Path(tmp) / ".env"
        subprocess.run(["bash", str(compose.MAKE_ENV), str(env_file)], check=True, timeout=120)
        stack = DockerCompose(
            compose.REPO,
            compose_file_name=["docker-compose.yml", "docker/compose.demo.yml"],
            env_file=str(env_file),
            build=True,
            wait=True,  # `up --wait`: returns once every health check passes, fails if one cannot
        )
        with stack:
            yield "http://localhost"


def test_every_container_is_healthy(compose_stack: str) -> None:
    out = subprocess.run(
        ["docker", "compose", "-p", "payment-fleet", "ps", "--format", "{{.Service}} {{.Health}}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    states = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert states and all(state == "healthy" for state in states.values()), states


def test_a_payment_goes_through_nginx(compose_stack: str) -> None:
    with httpx.Client(base_url=compose_stack, timeout=40) as edge:
        pay_once_through_the_edge(edge)
