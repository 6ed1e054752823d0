"""POST /assess-risk against the REAL account and OFAC apps (in-process, through
httpx.ASGITransport): the customer's name comes from account, OFAC screens it against the
bundled SDN list. KYC has no routes yet, so it stays the contract stand-in of conftest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from account import usecases as account_usecases
from account.main import MIGRATIONS as ACCOUNT_MIGRATIONS
from account.main import AccountSettings
from account.main import create_app as create_account_app
from ofac.main import OfacSettings
from ofac.main import create_app as create_ofac_app
from paykit.testing import DatabaseFactory, running_app
from risk.main import RiskSettings, create_app

CUSTOMERS = [
    ({"customer_id": "cust_001", "full_name": "John Smith", "country": "US"}, "ACC001", 1_500_000),
    ({"customer_id": "cust_003", "full_name": "Manuel Antonio Noriega", "country": "PA"}, "ACC003", 500_000),
]


@pytest.fixture
async def real_risk(
    database_factory: DatabaseFactory, risk_settings: RiskSettings, fleet
) -> AsyncIterator[httpx.AsyncClient]:
    account_db = database_factory.create("account", ACCOUNT_MIGRATIONS)
    account_app = create_account_app(
        AccountSettings(
            app_env="test", postgres_url=account_db, hold_sweep_interval_s=0, reconciliation_interval_s=0
        )
    )
    ofac_app = create_ofac_app(OfacSettings(app_env="test", ofac_admin_token="test-admin-token-0123456789"))
    try:
        async with running_app(account_app), running_app(ofac_app):
            pool = account_app.state.resources.require_pool()
            for customer, number, opening_minor in CUSTOMERS:
                await account_usecases.open_account(pool, customer, number, "USD", opening_minor)
            transports = {
                "account": httpx.ASGITransport(app=account_app),
                "ofac": httpx.ASGITransport(app=ofac_app),
                "kyc": fleet.transports()["kyc"],
            }
            async with running_app(create_app(risk_settings, transports=transports)) as client:
                yield client
    finally:
        database_factory.drop(account_db)


async def test_clear_customer_is_allowed(real_risk) -> None:
    response = await real_risk.post(
        "/assess-risk", json={"transaction_id": "TXN_REAL_1", "customer_id": "cust_001", "amount": "1000.00"}
    )

    answer = response.json()
    assert answer["decision"] == "ALLOW", answer
    assert answer["factors"]["sanctions_check"] == "OK"
    assert answer["factors"]["sanctions_list_version"]


async def test_customer_on_the_sdn_list_is_denied_without_a_challenge(real_risk) -> None:
    response = await real_risk.post(
        "/assess-risk", json={"transaction_id": "TXN_REAL_2", "customer_id": "cust_003", "amount": "12000.00"}
    )

    answer = response.json()
    assert answer["decision"] == "DENY", answer
    assert "SANCTIONS_HIT" in [r["code"] for r in answer["reasons"]]
    assert answer["factors"]["sanctions_matches"] >= 1


async def test_customer_unknown_to_account_is_denied(real_risk) -> None:
    response = await real_risk.post(
        "/assess-risk", json={"transaction_id": "TXN_REAL_3", "customer_id": "cust_404", "amount": "10.00"}
    )

    answer = response.json()
    assert answer["decision"] == "DENY", answer
    assert "CUSTOMER_NOT_FOUND" in [r["code"] for r in answer["reasons"]]
