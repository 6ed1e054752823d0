"""Fixtures of the notification tests: a migrated database, the account service's contract
as a MockTransport, and the app running in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from notification.main import MIGRATIONS, NotificationSettings, create_app
from paykit.events import CloudEvent
from paykit.testing import DatabaseFactory, running_app

# The account service's GET /customers/{id} as docs/contracts.md describes it.
CUSTOMERS = {
    "cust_001": {
        "customer_id": "cust_001",
        "full_name": "John Smith",
        "email": "john@example.com",
        "phone": "+1234567890",
        "country": "US",
    },
    "cust_002": {
        "customer_id": "cust_002",
        "full_name": "Jane Doe",
        "email": "jane@example.com",
        "phone": None,
        "country": "US",
    },
}


def account_contract(request: httpx.Request) -> httpx.Response:
    prefix = "/customers/"
    if request.method == "GET" and request.url.path.startswith(prefix):
        customer = CUSTOMERS.get(request.url.path[len(prefix) :])
        if customer is not None:
            return httpx.Response(200, json=customer)
        return httpx.Response(
            404,
            json={"code": "CUSTOMER_NOT_FOUND", "status": 404},
            headers={"content-type": "application/problem+json"},
        )
    return httpx.Response(404, json={"code": "NOT_FOUND"})


def make_event(*, id: str, type: str, data: dict[str, Any], subject: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=id,
        source="/services/confirm",
        type=type,
        subject=subject,
        time=datetime(2024, 1, 1, tzinfo=UTC),
        data=data,
    )


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("notification", MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
def settings(database_url: str) -> NotificationSettings:
    return NotificationSettings(app_env="test", postgres_url=database_url)


@pytest.fixture
async def client(settings: NotificationSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, account_transport=httpx.MockTransport(account_contract))
    async with running_app(app) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "notification"})
    yield conn
    await conn.close()
