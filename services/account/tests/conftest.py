"""A running account service on a fresh migrated database; each test opens its own accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from account import usecases
from account.main import MIGRATIONS, AccountSettings, create_app
from paykit.testing import DatabaseFactory, running_app, service_headers

SEED_DIR = Path(__file__).resolve().parents[3] / "database" / "seed"


def ops() -> dict[str, str]:
    """Headers of a person or script (the `ops` identity) calling the account service."""
    return service_headers("ops", "account")


@pytest.fixture
def db_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("account", MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
def settings(db_url: str) -> AccountSettings:
    # Background loops off: tests call the sweeper and the reconciliation steps themselves.
    return AccountSettings(
        app_env="test",
        postgres_url=db_url,
        hold_sweep_interval_s=0,
        reconciliation_interval_s=0,
        reconciliation_compare_payments=False,
    )


class Ledger:
    """The account service as its callers see it, plus operator steps (opening accounts,
    the integrity check query) that have no HTTP route."""

    def __init__(self, client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
        self.client = client
        self.pool = pool

    async def open(self, number: str, opening_minor: int, customer_id: str | None = None) -> None:
        customer = {"customer_id": customer_id or f"cust_{number}", "full_name": f"Holder {number}"}
        await usecases.open_account(self.pool, customer, number, "USD", opening_minor)

    async def account(self, number: str) -> dict[str, Any]:
        response = await self.client.get(f"/account/{number}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def available(self, number: str) -> int:
        return int((await self.account(number))["available_minor"])

    async def hold(
        self, hold_id: str, payer: str, payee: str, amount_minor: int, **extra: Any
    ) -> httpx.Response:
        body = {
            "hold_id": hold_id,
            "account_number": payer,
            "to_account": payee,
            "amount_minor": amount_minor,
        }
        return await self.client.post("/holds", json=body | extra)

    async def assert_consistent(self) -> None:
        assert await usecases.integrity_problems(self.pool) == []


@pytest.fixture
async def ledger(settings: AccountSettings) -> AsyncIterator[Ledger]:
    app = create_app(settings)
    # The ledger's caller is confirm: the only service that may move money.
    async with running_app(app, caller="confirm") as client:
        yield Ledger(client, app.state.resources.require_pool())
