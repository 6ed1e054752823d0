from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from gateway.main import MIGRATIONS, GatewaySettings, create_app
from paykit.testing import DatabaseFactory, running_app, verified_caller

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
        # What confirm answers next (status, body), instead of the echo.
        self.reply: tuple[int, dict[str, Any]] | None = None
        # A Set-Cookie to add to the next answers.
        self.cookie: str | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.reply is not None:
            cookies = {"set-cookie": self.cookie} if self.cookie else {}
            return httpx.Response(self.reply[0], json=self.reply[1], headers=cookies)
        body = json.loads(request.content or b"null")
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "healthy"})
        caller = verified_caller(request, "confirm")  # as the real confirm service would
        return httpx.Response(
            200,
            json={"status": "SUCCESS", "echo": body, "user": caller.subject, "roles": sorted(caller.roles)},
        )


@pytest.fixture
def confirm() -> ConfirmRecorder:
    return ConfirmRecorder()


class AccountStandIn:
    """The account service's GET /account/{n} and /entries; `lookup_down` makes the account
    lookup (not the statement) answer 503."""

    def __init__(self) -> None:
        self.owners = {"ACC001": "cust_001", "ACC002": "cust_002"}
        self.lookup_down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = request.url.path.removeprefix("/account/").removesuffix("/entries")
        if self.lookup_down and not request.url.path.endswith("/entries"):
            return httpx.Response(503, json={"status": 503, "code": "SERVICE_UNAVAILABLE"})
        if number not in self.owners:
            return httpx.Response(404, json={"status": 404, "code": "ACCOUNT_NOT_FOUND"})
        if request.url.path.endswith("/entries"):
            return httpx.Response(200, json={"entries": [{"amount_minor": -100}], "next_cursor": None})
        return httpx.Response(200, json={"account_number": number, "customer_id": self.owners[number]})


@pytest.fixture
def account() -> AccountStandIn:
    return AccountStandIn()


@pytest.fixture
async def client(
    settings: GatewaySettings, confirm: ConfirmRecorder, account: AccountStandIn
) -> AsyncIterator[httpx.AsyncClient]:
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
    transports = {"confirm": httpx.MockTransport(confirm), "account": httpx.MockTransport(account)}
    app = create_app(settings, transports=transports)
    async with running_app(app) as c:
        yield c


async def login(client: httpx.AsyncClient, username: str = "demo") -> dict[str, Any]:
    response = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
