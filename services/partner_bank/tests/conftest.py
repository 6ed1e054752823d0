"""A running bank on a fresh migrated database, with accounts each test opens itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx
import pytest
from partner_bank.main import MIGRATIONS, PartnerBankSettings, create_app
from paykit.testing import DatabaseFactory, running_app


@pytest.fixture
def db_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("partner_bank", MIGRATIONS)
    yield url
    database_factory.drop(url)


class Bank:
    """The bank as its callers see it, plus a way to open accounts (the bank has no API
    for that: its accounts are opened by operators)."""

    def __init__(self, client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
        self.client = client
        self._conn = conn

    async def open_account(self, number: str, balance_minor: int, currency: str = "USD") -> None:
        await self._conn.execute(
            """INSERT INTO bank_accounts (account_number, holder_name, currency, balance_minor)
               VALUES ($1, $2, $3, $4)""",
            number,
            f"Holder of {number}",
            currency,
            balance_minor,
        )

    async def execute(self, sql: str, *args: Any) -> None:
        """Direct SQL on the bank's database, for what no caller could do (e.g. hold a lock)."""
        await self._conn.execute(sql, *args)

    async def transfer(self, **body: Any) -> httpx.Response:
        return await self.client.post("/process-transfer", json=body)

    async def balance_minor(self, number: str) -> int:
        response = await self.client.get(f"/accounts/{number}/balance")
        assert response.status_code == 200, response.text
        value: int = response.json()["balance_minor"]
        return value

    async def balances(self, *numbers: str) -> dict[str, int]:
        return {n: await self.balance_minor(n) for n in numbers}

    async def all_transfers(self) -> list[dict[str, Any]]:
        response = await self.client.get("/transfers", params={"limit": 500})
        assert response.status_code == 200, response.text
        transfers: list[dict[str, Any]] = response.json()["transfers"]
        return transfers

    async def add_fault(self, **body: Any) -> None:
        response = await self.client.post("/admin/faults", json=body)
        assert response.status_code == 201, response.text


BankFactory = Callable[..., Awaitable[Bank]]


@pytest.fixture
async def make_bank(db_url: str) -> AsyncIterator[BankFactory]:
    """`await make_bank(**settings)` starts the bank app; one per test, on one database."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Bank:
            settings = PartnerBankSettings(app_env="test", postgres_url=db_url, **overrides)
            client = await stack.enter_async_context(running_app(create_app(settings)))
            conn = await asyncpg.connect(db_url, server_settings={"search_path": "partner_bank"})
            stack.push_async_callback(conn.close)
            return Bank(client, conn)

        yield start


@pytest.fixture
async def bank(make_bank: BankFactory) -> Bank:
    return await make_bank()
