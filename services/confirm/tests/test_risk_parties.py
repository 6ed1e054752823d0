"""Confirm has just read both parties from account when it asks risk, so it sends them along
and risk need not ask account again (one call, and account's work, fewer per payment). Only
parties read for this very request travel: a payment the request looked up (a confirm with
its one-time code) is assessed without them, and risk reads them from account itself."""

from __future__ import annotations

from .conftest import World, as_customer, headers, payment


async def test_the_assessment_carries_the_parties_account_named(world: World) -> None:
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert response.status_code == 200, response.text

    named = await world.account.get(
        "/payment-parties", params={"from_account": "ACC001", "to_account": "ACC002"}
    )
    assert named.status_code == 200, named.text
    [asked] = world.stand_ins.assessed
    assert asked["parties"] == {
        role: {key: party[key] for key in ("account_number", "customer_id", "customer")}
        for role, party in named.json().items()
    }
    assert asked["parties"]["payer"]["customer"] == {
        "customer_id": "cust_001",
        "full_name": "John Smith",
        "country": "US",
    }
    assert asked["parties"]["payee"]["account_number"] == "ACC002"
    # account was asked once for this payment, by confirm
    assert world.account_faults is not None
    assert world.account_faults.calls.count("GET /payment-parties") == 1


async def test_a_payment_created_earlier_is_assessed_without_parties(world: World) -> None:
    """A confirm with a one-time code looks the payment up and reads no parties: risk reads
    them itself."""
    created = await world.confirm.post("/payments", json=payment(), headers=headers("c1"))
    assert created.status_code == 201, created.text
    confirmed = await world.confirm.post(
        "/payment/confirm", json=payment(otp=world.stand_ins.code), headers=headers("c2")
    )
    assert confirmed.status_code == 200, confirmed.text
    [asked] = world.stand_ins.assessed
    assert "parties" not in asked
    final = await world.confirm.get(f"/payments/{created.json()['payment_id']}", headers=as_customer())
    assert final.json()["state"] == "COMPLETED"


async def test_a_payment_created_earlier_and_confirmed_carries_the_parties_read_now(world: World) -> None:
    """A confirm without a code checks the accounts before it learns that the payment exists
    (its insert conflicts): the parties it read for this request travel, once."""
    created = await world.confirm.post("/payments", json=payment(), headers=headers("c1"))
    assert created.status_code == 201, created.text
    assert world.account_faults is not None
    asked_before = len(world.account_faults.calls)
    confirmed = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("c2"))
    assert confirmed.status_code == 200, confirmed.text
    [asked] = world.stand_ins.assessed
    assert asked["parties"]["payer"]["account_number"] == "ACC001"
    assert world.account_faults.calls[asked_before:].count("GET /payment-parties") == 1
