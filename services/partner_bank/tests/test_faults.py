"""Injected faults make the bank misbehave deterministically, and never break its books."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from partner_bank.main import PartnerBankSettings, create_app
from paykit.testing import production_identity

if TYPE_CHECKING:
    from .conftest import Bank, BankFactory

PAYER, PAYEE = "PAYER1", "PAYEE1"
CALLER_TIMEOUT_S = 0.5


async def open_accounts(bank: Bank) -> Bank:
    await bank.open_account(PAYER, 1_000_00)
    await bank.open_account(PAYEE, 0)
    return bank


@pytest.fixture
async def funded(bank: Bank) -> Bank:
    return await open_accounts(bank)


def body(reference: str, amount: str = "100.00") -> dict[str, Any]:
    return {"reference": reference, "from_account": PAYER, "to_account": PAYEE, "amount": amount}


async def test_timeout_after_execute_commits_then_leaves_the_caller_unanswered(funded: Bank) -> None:
    await funded.add_fault(mode="timeout_after_execute", latency_ms=5_000)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(CALLER_TIMEOUT_S):
            await funded.transfer(**body("lost_answer"))

    inquiry = await funded.client.get("/transfers/lost_answer")
    assert inquiry.status_code == 200
    assert inquiry.json()["status"] == "COMPLETED"
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 900_00, PAYEE: 100_00}
    async with asyncio.timeout(CALLER_TIMEOUT_S * 4):
        retry = await funded.transfer(**body("lost_answer"))
    assert retry.json()["reference_number"] == inquiry.json()["reference_number"]
    assert retry.json()["replayed"] is True
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 900_00, PAYEE: 100_00}


async def test_error_5xx_executes_nothing_until_the_fault_is_spent(funded: Bank) -> None:
    await funded.add_fault(mode="error_5xx", count=2)

    for _ in range(2):
        response = await funded.transfer(**body("flaky"))
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "BANK_UNAVAILABLE"
        assert (await funded.client.get("/transfers/flaky")).status_code == 404
        assert await funded.balances(PAYER, PAYEE) == {PAYER: 1_000_00, PAYEE: 0}

    third = await funded.transfer(**body("flaky"))
    assert third.json()["status"] == "COMPLETED"
    assert third.json()["replayed"] is False
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 900_00, PAYEE: 100_00}


async def test_faults_are_served_in_order_and_decline_carries_a_code(funded: Bank) -> None:
    await funded.add_fault(mode="error_5xx")
    await funded.add_fault(mode="decline")
    await funded.add_fault(mode="decline", error_code="DO_NOT_HONOR")

    first = await funded.transfer(**body("t1"))
    second = await funded.transfer(**body("t2"))
    third = await funded.transfer(**body("t3"))
    fourth = await funded.transfer(**body("t4"))

    assert first.status_code == 503
    assert (second.json()["status"], second.json()["error_code"]) == ("REJECTED", "TRANSFER_DECLINED")
    assert (third.json()["status"], third.json()["error_code"]) == ("REJECTED", "DO_NOT_HONOR")
    assert fourth.json()["status"] == "COMPLETED"
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 900_00, PAYEE: 100_00}
    assert (await funded.client.get("/admin/faults")).json() == {"faults": []}


async def test_a_fault_added_between_transfers_hits_the_next_one_even_a_replay(funded: Bank) -> None:
    first = await funded.transfer(**body("before"))
    await funded.add_fault(mode="error_5xx")
    await funded.add_fault(mode="decline")

    replay = await funded.transfer(**body("before"))
    declined = await funded.transfer(**body("after"))

    assert first.json()["status"] == "COMPLETED"
    assert (replay.status_code, replay.json()["code"]) == (503, "BANK_UNAVAILABLE")
    assert (declined.json()["status"], declined.json()["error_code"]) == ("REJECTED", "TRANSFER_DECLINED")
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 900_00, PAYEE: 100_00}


async def test_a_counted_fault_hits_exactly_that_many_concurrent_transfers(funded: Bank) -> None:
    await funded.add_fault(mode="error_5xx", count=3)
    await funded.add_fault(mode="decline", count=4)

    responses = await asyncio.gather(*(funded.transfer(**body(f"c{i}", "1.00")) for i in range(12)))

    assert sum(r.status_code == 503 for r in responses) == 3
    answers = [r.json() for r in responses if r.status_code == 200]
    assert sorted(a["status"] for a in answers) == ["COMPLETED"] * 5 + ["REJECTED"] * 4
    assert {a["error_code"] for a in answers if a["status"] == "REJECTED"} == {"TRANSFER_DECLINED"}
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 995_00, PAYEE: 5_00}
    assert (await funded.client.get("/admin/faults")).json() == {"faults": []}


async def test_latency_fault_slows_the_answer_but_executes(funded: Bank) -> None:
    await funded.add_fault(mode="latency", latency_ms=300)

    started = time.perf_counter()
    response = await funded.transfer(**body("slow"))

    assert time.perf_counter() - started >= 0.3
    assert response.json()["status"] == "COMPLETED"


async def test_base_latency_applies_to_every_transfer(make_bank: BankFactory) -> None:
    bank = await open_accounts(await make_bank(bank_latency_ms=200))

    for reference in ("a", "b"):
        started = time.perf_counter()
        await bank.transfer(**body(reference, "1.00"))
        assert time.perf_counter() - started >= 0.2


async def test_delete_clears_the_schedule(funded: Bank) -> None:
    await funded.add_fault(mode="error_5xx", count=50)
    listed = (await funded.client.get("/admin/faults")).json()["faults"]
    assert [(f["mode"], f["remaining"]) for f in listed] == [("error_5xx", 50)]

    cleared = await funded.client.delete("/admin/faults")

    assert cleared.json() == {"cleared": 1}
    assert (await funded.transfer(**body("after_clear"))).json()["status"] == "COMPLETED"


async def test_schedule_from_settings_is_loaded_at_start(make_bank: BankFactory) -> None:
    bank = await open_accounts(await make_bank(bank_fault_schedule="error_5xx:1, decline:1:0:DO_NOT_HONOR"))

    assert (await bank.transfer(**body("s1"))).status_code == 503
    assert (await bank.transfer(**body("s2"))).json()["error_code"] == "DO_NOT_HONOR"
    assert (await bank.transfer(**body("s3"))).json()["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "explode"},
        {"mode": "error_5xx", "count": 0},
        {"mode": "latency", "latency_ms": -1},
        {"mode": "latency", "latency_ms": 10_000_000},
        {"mode": "decline", "error_code": "lower case"},
    ],
)
async def test_bad_fault_requests_are_422_and_schedule_nothing(funded: Bank, fault: dict[str, Any]) -> None:
    response = await funded.client.post("/admin/faults", json=fault)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await funded.client.get("/admin/faults")).json() == {"faults": []}


async def test_admin_routes_are_absent_in_production(db_url: str) -> None:
    settings = PartnerBankSettings(
        app_env="production", postgres_url=db_url, jwt_secret="s" * 40, **production_identity("partner_bank")
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://bank") as client:
        for method in ("POST", "GET", "DELETE"):
            response = await client.request(method, "/admin/faults", json={"mode": "error_5xx"})
            assert response.status_code == 404
            assert response.json()["code"] == "NOT_FOUND"


def test_a_fault_schedule_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="BANK_FAULT_SCHEDULE"):
        PartnerBankSettings(app_env="production", jwt_secret="s" * 40, bank_fault_schedule="error_5xx")
