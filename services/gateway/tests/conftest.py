from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from gateway.main import MIGRATIONS, GatewaySettings, create_app
from paykit.testing import DatabaseFactory, running_app

PASSWORD = "password123"


@pytest.fixture
def settings(database_factory: DatabaseFactory, redis_url: str) -> Iterator[GatewaySettings]:
    url = database_factory.create("gateway", MIGRATIONS)
    yield GatewaySettings(
        app_env="test", postgres_url=url, redis_url=redis_url, rate_limit_login_user="5/minute"
    )
    database_factory.drop(url)


class ConfirmRecorder:
    """Stands in for the confirm service (tested on its own) and records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content or b"null")
        return httpx.Response(
            200, json={"status": "SUCCESS", "echo": body, "user": request.headers.get("x-user-id")}
        )


@pytest.fixture
def confirm() -> ConfirmRecorder:
    return ConfirmRecorder()


@pytest.fixture
async def client(settings: GatewaySettings, confirm: ConfirmRecorder) -> AsyncIterator[httpx.AsyncClient]:
    conn = await asyncpg.connect(settings.postgres_url, server_settings={"search_path": "gateway"})
    hashed = PasswordHasher().hash(PASSWORD)
    await conn.executemany(
        "INSERT INTO users (username, password_hash, customer_id, roles) VALUES ($1, $2, $3, $4)",
        [
            ("demo", hashed, "cust_001", ["customer"]),
            ("jane", hashed, "cust_002", ["customer"]),
            ("ops", hashed, "ops_001", ["operator"]),
        ],
    )
    await conn.close()
    app = create_app(settings, transports={"confirm": httpx.MockTransport(confirm)})
    async with running_app(app) as c:
        yield c


async def login(client: httpx.AsyncClient, username: str = "demo") -> dict[str, Any]:
    response = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
