"""POST /assess-risk against the REAL account and OFAC apps (in-process, through
httpx.ASGITransport): the customer's name comes from account, OFAC screens it against the
bundled SDN list, and KYC answers from its own tier table (that test skips itself while the
KYC app has no /check-status). Elsewhere KYC is the contract stand-in of conftest."""

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
    ({"customer_id": "cust_009", "full_name": "--- 0000", "country": "US"}, "ACC009", 500_000),
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


async def test_paying_the_sanctioned_customers_account_is_denied(real_risk) -> None:
    body = {
        "transaction_id": "TXN_REAL_PAYEE",
        "customer_id": "cust_001",
        "amount": "100.00",
        "from_account": "ACC001",
        "to_account": "ACC003",
    }
    answer = (await real_risk.post("/assess-risk", json=body)).json()
    assert answer["decision"] == "DENY", answer
    assert "PAYEE_SANCTIONS_HIT" in [r["code"] for r in answer["reasons"]]


async def test_customer_unknown_to_account_is_denied(real_risk) -> None:
    response = await real_risk.post(
        "/assess-risk", json={"transaction_id": "TXN_REAL_3", "customer_id": "cust_404", "amount": "10.00"}
    )

    answer = response.json()
    assert answer["decision"] == "DENY", answer
    assert "CUSTOMER_NOT_FOUND" in [r["code"] for r in answer["reasons"]]


@pytest.fixture
async def risk_with_real_kyc(
    database_factory: DatabaseFactory, risk_settings: RiskSettings, fleet
) -> AsyncIterator[httpx.AsyncClient]:
    from kyc.main import MIGRATIONS as KYC_MIGRATIONS
    from kyc.main import KycSettings
    from kyc.main import create_app as create_kyc_app

    kyc_app = create_kyc_app(KycSettings(app_env="test", kyc_outbox_relay=False))
    if "/check-status" not in kyc_app.openapi()["paths"]:
        pytest.skip("the KYC service has no /check-status yet")
    kyc_db = database_factory.create("kyc", KYC_MIGRATIONS)
    kyc_app = create_kyc_app(KycSettings(app_env="test", postgres_url=kyc_db, kyc_outbox_relay=False))
    try:
        async with running_app(kyc_app):
            transports = {**fleet.transports(), "kyc": httpx.ASGITransport(app=kyc_app)}
            async with running_app(create_app(risk_settings, transports=transports)) as client:
                yield client
    finally:
        database_factory.drop(kyc_db)


async def test_real_kyc_tier_limits_are_enforced(risk_with_real_kyc) -> None:
    # cust_002 has no KYC record: KYC answers UNVERIFIED on tier 0 with that tier's limits.
    async def assess(transaction_id: str, amount: str) -> dict:
        body = {"transaction_id": transaction_id, "customer_id": "cust_002", "amount": amount}
        response = await risk_with_real_kyc.post("/assess-risk", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    small = await assess("TXN_KYC_REAL_1", "100.00")
    limits = small["factors"]["kyc_limits"]
    over = await assess("TXN_KYC_REAL_2", f"{limits['per_payment_minor'] / 100 + 0.01:.2f}")

    assert (small["decision"], small["risk_score"], small["factors"]["kyc_tier"]) == ("ALLOW", 40, 0)
    assert over["decision"] == "DENY"
    assert "KYC_LIMIT_EXCEEDED" in [r["code"] for r in over["reasons"]]


async def test_a_customer_whose_name_cannot_be_screened_is_not_allowed(real_risk) -> None:
    # OFAC refuses a name with no letters (422 NOTHING_TO_SCREEN); risk must not read that as clear.
    response = await real_risk.post(
        "/assess-risk", json={"transaction_id": "TXN_REAL_4", "customer_id": "cust_009", "amount": "10.00"}
    )

    answer = response.json()
    assert answer["decision"] == "REVIEW", answer
    assert answer["factors"]["sanctions_check"] == "UNAVAILABLE"
