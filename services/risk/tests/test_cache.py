"""Answers that do not change per payment are asked once a while, not on every payment:
customer details always; KYC and screening only where turned on (off by default, as nothing
tells risk when a customer is newly listed or held)."""

from __future__ import annotations

import pytest
from paykit.testing import running_app
from risk.main import RiskSettings, create_app

from .conftest import Assess, FakeFleet


@pytest.fixture
def risk_settings(risk_settings: RiskSettings) -> RiskSettings:
    return risk_settings.model_copy(update={"kyc_cache_ttl_s": 30.0, "screening_cache_ttl_s": 30.0})


async def test_by_default_kyc_and_screening_are_asked_on_every_payment(
    risk_db: str, fleet: FakeFleet
) -> None:
    settings = RiskSettings(app_env="test", postgres_url=risk_db, dependency_breaker_threshold=1000)
    body = {"customer_id": "cust_001", "amount": "10.00", "currency": "USD"}
    async with running_app(create_app(settings, transports=fleet.transports())) as risk:
        for transaction_id in ("txn_d1", "txn_d2"):
            response = await risk.post("/assess-risk", json={**body, "transaction_id": transaction_id})
            assert response.status_code == 200, response.text
            assert response.json()["decision"] == "ALLOW"
    # A KYC hold or a new listing between the two payments would have been seen.
    assert len(fleet.called("ofac")) == len(fleet.called("kyc")) == 2
    assert len(fleet.called("account")) == 1


async def test_a_second_payment_reuses_customer_kyc_and_screening(assess: Assess, fleet: FakeFleet) -> None:
    first = await assess(transaction_id="txn_c1", amount_minor=1_000)
    second = await assess(transaction_id="txn_c2", amount_minor=1_000)
    assert first["decision"] == second["decision"] == "ALLOW"
    assert len(fleet.called("account")) == len(fleet.called("ofac")) == len(fleet.called("kyc")) == 1


async def test_a_failed_answer_is_not_kept(assess: Assess, fleet: FakeFleet) -> None:
    fleet.faults["ofac"] = "down"
    assert (await assess(transaction_id="txn_c3", amount_minor=1_000))["decision"] == "REVIEW"
    del fleet.faults["ofac"]
    assert (await assess(transaction_id="txn_c4", amount_minor=1_000))["decision"] == "ALLOW"
    assert len(fleet.called("ofac")) == 2


async def test_a_new_list_version_screens_everyone_again(assess: Assess, fleet: FakeFleet) -> None:
    await assess(transaction_id="txn_c5", customer_id="cust_001", amount_minor=1_000)
    # The list is reloaded and now names John Smith; another customer's screening tells us.
    fleet.sanctioned.add("John Smith")
    fleet.list_version = "sdn-test-2"
    await assess(transaction_id="txn_c6", customer_id="cust_002", amount_minor=1_000)
    again = await assess(transaction_id="txn_c7", customer_id="cust_001", amount_minor=1_000)
    assert again["decision"] == "DENY"
