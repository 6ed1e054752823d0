"""A confirm of a new payment creates it without looking it up first: the insert itself says
whether the customer already has that transaction (its conflict), so the lookup is one round
trip per payment for the rare retry. A payment that exists still gets its own answer, even
when account cannot be asked, and a confirm with a one-time code (the payment exists: it
waited for that code) asks account nothing."""

from __future__ import annotations

from typing import Any

import pytest
from confirm import store

from .conftest import World, headers, payment


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    looked: list[str] = []
    lookup = store.get_by_transaction

    async def counted(conn: Any, customer_id: str, transaction_id: str) -> Any:
        looked.append(transaction_id)
        return await lookup(conn, customer_id, transaction_id)

    monkeypatch.setattr(store, "get_by_transaction", counted)
    return looked


async def test_a_new_payment_is_created_without_a_lookup(world: World, lookups: list[str]) -> None:
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert response.status_code == 200, response.text
    assert lookups == []


async def test_a_stored_payment_keeps_its_answer_when_account_is_down(
    world: World, lookups: list[str]
) -> None:
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert first.status_code == 200, first.text
    assert world.account_faults is not None
    world.account_faults.down = True
    again = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k2"))
    assert again.status_code == 200 and again.json() == {**first.json(), "already_confirmed": True}
    other = await world.confirm.post("/payment/confirm", json=payment(amount="5.00"), headers=headers("k3"))
    assert other.status_code == 422 and other.json()["code"] == "TRANSACTION_MISMATCH", other.text


async def test_a_confirm_with_its_code_asks_account_nothing_before_the_hold(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    challenged = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert challenged.status_code == 200 and challenged.json()["status"] == "OTP_REQUIRED"
    assert world.account_faults is not None
    asked = len(world.account_faults.calls)
    done = await world.confirm.post(
        "/payment/confirm", json=payment(otp=world.stand_ins.code), headers=headers("k2")
    )
    assert done.status_code == 200 and done.json()["status"] == "SUCCESS", done.text
    assert not any("payment-parties" in call for call in world.account_faults.calls[asked:])


async def test_a_new_payment_with_a_bad_account_is_refused_and_not_created(world: World) -> None:
    refused = await world.confirm.post(
        "/payment/confirm", json=payment(from_account="ACC002", to_account="ACC001"), headers=headers("k1")
    )
    assert refused.status_code == 403, refused.text
    async with world.confirm_db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM payments") == 0
