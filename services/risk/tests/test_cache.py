"""Answers that do not change per payment are asked once a while, not on every payment:
customer details always; KYC statuses and screenings while their change mark stands
(paykit.marks: kyc renews a customer's mark on every status change, ofac the lists' mark
on every list swap), so a hold or a new listing decides the very next payment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from paykit.marks import SANCTIONS_LISTS, ChangeMarks, kyc_status
from paykit.testing import running_app
from redis.asyncio import Redis
from risk.main import RiskSettings, create_app

from .conftest import Assess, FakeFleet, codes


@pytest.fixture
def risk_settings(risk_settings: RiskSettings, redis_url: str) -> RiskSettings:
    return risk_settings.model_copy(update={"redis_url": redis_url})


@pytest.fixture
async def marks(redis_url: str) -> AsyncIterator[ChangeMarks]:
    """As kyc and ofac write them."""
    async with Redis.from_url(redis_url, socket_timeout=2) as client:
        yield ChangeMarks(client)


async def test_without_marks_kyc_and_screening_are_asked_on_every_payment(
    risk_db: str, fleet: FakeFleet
) -> None:
    settings = RiskSettings(app_env="test", postgres_url=risk_db, dependency_breaker_threshold=1000)
    assert settings.kyc_cache_ttl_s > 0 and settings.screening_cache_ttl_s > 0
    body = {"customer_id": "cust_001", "amount": "10.00", "currency": "USD"}
    async with running_app(create_app(settings, transports=fleet.transports())) as risk:
        for transaction_id in ("txn_d1", "txn_d2"):
            response = await risk.post("/assess-risk", json={**body, "transaction_id": transaction_id})
            assert response.status_code == 200, response.text
            assert response.json()["decision"] == "ALLOW"
    # Nothing would tell risk of a KYC hold or a new listing between the two payments.
    assert len(fleet.called("ofac")) == len(fleet.called("kyc")) == 2
    assert len(fleet.called("account")) == 1


async def test_an_unreachable_redis_means_asking_every_time(risk_db: str, fleet: FakeFleet) -> None:
    settings = RiskSettings(
        app_env="test",
        postgres_url=risk_db,
        dependency_breaker_threshold=1000,
        redis_url="redis://127.0.0.1:1/0",
    )
    async with running_app(create_app(settings, transports=fleet.transports())) as risk:
        for transaction_id in ("txn_u1", "txn_u2"):
            body = {
                "customer_id": "cust_001",
                "amount": "10.00",
                "currency": "USD",
                "transaction_id": transaction_id,
            }
            response = await risk.post("/assess-risk", json=body)
            assert response.status_code == 200 and response.json()["decision"] == "ALLOW", response.text
    assert len(fleet.called("ofac")) == len(fleet.called("kyc")) == 2


async def test_a_second_payment_reuses_customer_kyc_and_screening(
    assess: Assess, fleet: FakeFleet, risk: httpx.AsyncClient
) -> None:
    first = await assess(transaction_id="txn_c1", amount_minor=1_000)
    used_before = await _kept_answers_used(risk)
    second = await assess(transaction_id="txn_c2", amount_minor=1_000)
    assert first["decision"] == second["decision"] == "ALLOW"
    assert len(fleet.called("account")) == len(fleet.called("ofac")) == len(fleet.called("kyc")) == 1
    used = await _kept_answers_used(risk)
    assert {k: used[k] - used_before[k] for k in used} == {"kyc": 1, "screening": 1}


async def _kept_answers_used(risk: httpx.AsyncClient) -> dict[str, float]:
    lines = (await risk.get("/metrics")).text.splitlines()
    return {
        answer: sum(
            float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith(f'risk_kept_answers_total{{answer="{answer}",outcome="used"}}')
        )
        for answer in ("kyc", "screening")
    }


async def test_a_failed_answer_is_not_kept(assess: Assess, fleet: FakeFleet) -> None:
    fleet.faults["ofac"] = "down"
    assert (await assess(transaction_id="txn_c3", amount_minor=1_000))["decision"] == "REVIEW"
    del fleet.faults["ofac"]
    assert (await assess(transaction_id="txn_c4", amount_minor=1_000))["decision"] == "ALLOW"
    assert len(fleet.called("ofac")) == 2


async def test_a_kyc_change_decides_the_customers_very_next_payment(
    assess: Assess, fleet: FakeFleet, marks: ChangeMarks
) -> None:
    assert (await assess(transaction_id="txn_k1", amount_minor=1_000))["decision"] == "ALLOW"
    # A re-screening hit holds cust_001 at kyc, which renews the customer's mark.
    fleet.kyc["cust_001"] = {
        "verified": False,
        "status": "MANUAL_REVIEW",
        "tier": 3,
        "limits": None,
        "reasons": ["SANCTIONS_RESCREEN_HIT"],
    }
    await marks.renew(kyc_status("cust_001"))
    held = await assess(transaction_id="txn_k2", amount_minor=1_000)
    assert held["decision"] == "DENY", codes(held)
    assert len(fleet.called("kyc")) == 2
    # Another customer's change does not drop cust_001's kept answer.
    await marks.renew(kyc_status("cust_002"))
    await assess(transaction_id="txn_k3", amount_minor=1_000)
    assert len(fleet.called("kyc")) == 2


async def test_a_list_swap_screens_everyone_again(
    assess: Assess, fleet: FakeFleet, marks: ChangeMarks
) -> None:
    await assess(transaction_id="txn_c5", customer_id="cust_001", amount_minor=1_000)
    # The lists are reloaded and now name John Smith; ofac renews the lists' mark.
    fleet.sanctioned.add("John Smith")
    fleet.list_version = "sdn-test-2"
    await marks.renew(SANCTIONS_LISTS)
    again = await assess(transaction_id="txn_c7", customer_id="cust_001", amount_minor=1_000)
    assert again["decision"] == "DENY"
