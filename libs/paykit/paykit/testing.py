"""pytest plugin shared by every service's tests: real Postgres and Redis (the ones named
by TEST_POSTGRES_URL/POSTGRES_URL and TEST_REDIS_URL/REDIS_URL, else embedded ones), a
fresh migrated database per test, and an in-process client that runs the app's lifespan.

Enable with `-p paykit.testing` (the root pyproject does)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .db import PAYKIT_MIGRATIONS, apply_migrations
from .embedded import EmbeddedPostgres, EmbeddedRedis, env_url, with_database
from .telemetry import configure_tracing

ADMIN_CONNECT_TIMEOUT_S = 10


def _admin_execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=ADMIN_CONNECT_TIMEOUT_S) as conn:
        for statement in statements:
            conn.execute(statement)


class DatabaseFactory:
    """Builds one migrated template per schema per session and clones it for each test."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._templates: dict[str, str] = {}
        self._run = uuid.uuid4().hex[:8]

    def _template(self, schema: str, sources: Sequence[Path]) -> str:
        digest = hashlib.sha256("|".join(str(p) for p in sources).encode()).hexdigest()[:8]
        key = f"{schema}:{digest}"
        if key not in self._templates:
            name = f"tmpl_{schema}_{digest}_{self._run}"
            _admin_execute(self.server_url, f'CREATE DATABASE "{name}"')
            url = with_database(self.server_url, name)
            _admin_execute(url, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            apply_migrations(url, schema, sources)
            self._templates[key] = name
        return self._templates[key]

    def create(self, schema: str, migrations_dir: Path, *, with_paykit: bool = True) -> str:
        """A fresh database with `schema` migrated; returns its URL."""
        sources = ([PAYKIT_MIGRATIONS] if with_paykit else []) + [migrations_dir]
        template = self._template(schema, sources)
        name = f"test_{schema}_{uuid.uuid4().hex[:10]}"
        _admin_execute(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return with_database(self.server_url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        _admin_execute(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_templates(self) -> None:
        for name in self._templates.values():
            _admin_execute(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    given = env_url("TEST_POSTGRES_URL", "POSTGRES_URL")
    if given:
        yield given
        return
    # Not under pytest's basetemp: pytest keeps that 0700, and the embedded server runs as
    # another system user when we are root, so it needs a directory it can reach.
    data_dir = Path(tempfile.mkdtemp(prefix="paykit-pg-"))
    server = EmbeddedPostgres(data_dir, keep=False)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_factory(postgres_server_url: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(postgres_server_url)
    yield factory
    factory.drop_templates()


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = env_url("TEST_REDIS_URL", "REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), keep=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The Redis server, emptied before the test so tests never see each other's keys."""
    import redis

    client = redis.Redis.from_url(redis_server_url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server_url


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("tests", exporter=exporter)
    return exporter


@asynccontextmanager
async def running_app(app: FastAPI, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as client:
            yield client


async def assert_operational(app: FastAPI, service: str) -> None:
    """What every service answers once started: /health names it, /ready is green,
    /metrics counts requests, and the OpenAPI document describes its routes."""
    async with running_app(app) as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["service"] == service, health.text
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert "http_requests_total" in (await client.get("/metrics")).text
        openapi = (await client.get("/openapi.json")).json()
        assert openapi["info"]["title"] and "/health" in openapi["paths"]


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("APP_ENV", "test")
    config.addinivalue_line("markers", "integration: needs the whole fleet, nginx and Kafka")
