"""Fixtures of the audit tests: a migrated database (as the superuser, so a test can play
the tamperer), the app in-process, and a connection to the audit schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from audit.main import MIGRATIONS, AuditSettings, create_app
from paykit.testing import DatabaseFactory, running_app


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("audit", MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
def settings(database_url: str) -> AuditSettings:
    return AuditSettings(app_env="test", postgres_url=database_url, consume_events=False)


@pytest.fixture
async def client(settings: AuditSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings)) as c:
        yield c


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
    yield conn
    await conn.close()
