"""pytest plugin shared by every service's tests: real Postgres and Redis (the ones named
by TEST_POSTGRES_URL/POSTGRES_URL and TEST_REDIS_URL/REDIS_URL, else embedded ones), a
fresh migrated database per test, and an in-process client that runs the app's lifespan.

Enable with `-p paykit.testing` (the root pyproject does)."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.routing import Match

from .db import PAYKIT_MIGRATIONS, apply_migrations
from .embedded import EmbeddedPostgres, EmbeddedRedis, env_url, with_database
from .identity import (
    FLEET,
    Caller,
    ServiceIdentity,
    dev_private_key,
    identity_from_settings,
    mint,
    private_key_text,
    public_keys_text,
)
from .openapi import api_routes
from .openapi import route_rule as _route_rule
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


def route_rule(app: FastAPI, method: str, path: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The callers the route serving `method path` admits, in the order it lists them, and
    the roles it asks of some of them."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in api_routes(app):
        if route.matches(scope)[0] is Match.FULL:
            return _route_rule(route) or ((), {})
    return (), {}


def route_callers(app: FastAPI, method: str, path: str) -> tuple[str, ...]:
    return route_rule(app, method, path)[0]


class FirstAllowedCaller(httpx.Auth):
    """Signs each request as the first caller its route admits: service tests exercise what
    a route does, and each service's test_callers.py exercises who may call it. A request
    that carries its own Authorization header (even an empty one) is left as it is."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            callers, roles = route_rule(self.app, request.method, request.url.path)
            if callers:
                caller = callers[0]
                role = [roles[caller]] if caller in roles else []
                token = service_token(caller, self.app.state.identity.name, roles=role)
                request.headers["Authorization"] = f"Bearer {token}"
        yield request


@asynccontextmanager
async def running_app(
    app: FastAPI, base_url: str = "http://testserver", *, caller: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a client that talks to it in-process, signed as
    the service `caller` when given, else as the first caller each route admits."""
    headers = service_headers(caller, app.state.identity.name) if caller else {}
    auth = None if caller else FirstAllowedCaller(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, timeout=30, headers=headers, auth=auth
        ) as client:
            yield client


@asynccontextmanager
async def served_over_loopback(app: FastAPI, **config: Any) -> AsyncIterator[str]:
    """`app` served by a real uvicorn on a free loopback port (uvicorn.Config options in
    `config`), for tests of what crosses a real socket; yields its base URL."""
    import asyncio
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):  # up to 5 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


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


DEV_SEED_ENV = "SERVICE_IDENTITY_DEV_SEED"


def service_token(
    caller: str, audience: str, *, subject: str | None = None, roles: Sequence[str] = ()
) -> str:
    """A token of the test fleet's `caller` for `audience` (every app in tests derives its key
    from the session's seed, so any test can speak as any service)."""
    key = dev_private_key(os.environ[DEV_SEED_ENV], caller)
    return mint(key, caller, audience, subject=subject, roles=roles)


def service_headers(
    caller: str, audience: str, *, subject: str | None = None, roles: Sequence[str] = ()
) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token(caller, audience, subject=subject, roles=roles)}"}


def production_identity(name: str) -> dict[str, str]:
    """Settings fields giving `name` explicit keys, as production requires: the session's keys,
    so this module's helpers can still speak to the app."""
    seed = os.environ[DEV_SEED_ENV]
    return {
        "service_signing_key": private_key_text(dev_private_key(seed, name)),
        "service_public_keys": public_keys_text({n: dev_private_key(seed, n).public_key() for n in FLEET}),
    }


def fleet_identity(name: str) -> ServiceIdentity:
    """The identity `name` has in this test session (e.g. to play a callee in a fake)."""
    return identity_from_settings(
        name, signing_key="", public_keys="", dev_seed=os.environ[DEV_SEED_ENV], production=False
    )


def verified_caller(request: httpx.Request, audience: str) -> Caller:
    """What a real `audience` service would make of the request's service token (raises the
    ProblemError a real one answers with)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return fleet_identity(audience).verify(token if scheme.lower() == "bearer" else "")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("APP_ENV", "test")
    # Keys generated per test session: every service's key derives from this seed.
    os.environ.setdefault(DEV_SEED_ENV, secrets.token_urlsafe(32))
    config.addinivalue_line("markers", "integration: needs the whole fleet, nginx and Kafka")


class CountingConnection:
    """An asyncpg connection that counts the statements it sends (executemany: one per row, as
    the server executes them): tests that a batch costs a constant number of round trips."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, query: str, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.execute(query, *args)

    async def executemany(self, query: str, args: list[Any]) -> None:
        self.statements += len(args)
        await self._conn.executemany(query, args)

    async def fetch(self, query: str, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.fetchval(query, *args)
