"""The seed's risk service screens by customer id alone: the name comes from the account
service (the real app here, with its dev data), and a lookup that fails never says "clear"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from account.main import MIGRATIONS as ACCOUNT_MIGRATIONS
from account.main import AccountSettings
from account.main import create_app as create_account_app
from ofac.main import OfacSettings, create_app
from paykit.testing import DatabaseFactory, running_app

SEED = Path(__file__).resolve().parents[3] / "database" / "seed" / "account.sql"


@pytest.fixture
async def ofac(database_factory: DatabaseFactory, settings: OfacSettings) -> AsyncIterator[httpx.AsyncClient]:
    url = database_factory.create("account", ACCOUNT_MIGRATIONS)
    account_app = create_account_app(
        AccountSettings(
            app_env="test",
            postgres_url=url,
            dev_seed_file=str(SEED),
            hold_sweep_interval_s=0,
            reconciliation_interval_s=0,
        )
    )
    async with running_app(account_app):
        app = create_app(settings, account_transport=httpx.ASGITransport(app=account_app))
        async with running_app(app) as client:
            yield client
    database_factory.drop(url)


async def test_an_id_alone_screens_the_customers_name(ofac: httpx.AsyncClient) -> None:
    sanctioned = (await ofac.post("/check-sanctions", json={"customer_id": "cust_003"})).json()
    assert sanctioned["is_sanctioned"] is True and sanctioned["screened_name"] == "Manuel Antonio Noriega"
    assert sanctioned["matches"][0]["entity_id"] == "1572"
    clear = (await ofac.post("/check-sanctions", json={"customer_id": "cust_001"})).json()
    assert (clear["is_sanctioned"], clear["review"]) == (False, False)
    unknown = await ofac.post("/check-sanctions", json={"customer_id": "cust_999"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "CUSTOMER_NOT_FOUND"


async def test_a_failed_lookup_is_503_not_clear(settings: OfacSettings) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    settings = settings.model_copy(update={"http_retries_max": 0})
    async with running_app(create_app(settings, account_transport=httpx.MockTransport(down))) as client:
        response = await client.post("/check-sanctions", json={"customer_id": "cust_001"})
    assert response.status_code == 503 and response.json()["code"] == "CUSTOMER_LOOKUP_UNAVAILABLE"


async def test_an_id_that_is_no_url_path_is_unknown_not_a_500(ofac: httpx.AsyncClient) -> None:
    # Found by schemathesis: a control character or a slash in the id broke the lookup's URL.
    for customer_id in ("-\u00b3\u0018x", "cust_001/../cust_003", "a b?c#d"):
        response = await ofac.post("/check-sanctions", json={"customer_id": customer_id})
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "CUSTOMER_NOT_FOUND"
