"""Issue 9 items 1 and 2: the bank is never asked to pay without a live hold, and no hold
waits on a payment that nobody will finish."""

from __future__ import annotations

from datetime import datetime

from account import usecases as ledger

from .conftest import World, headers, payment


async def _age_hold(world: World, hold_id: str) -> None:
    """Let the hold's time run out on the account service's database clock, then sweep."""
    await world.account_db.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE hold_id = $1", hold_id
    )
    await ledger.expire_holds(world.account_db)


async def _age_payment(world: World, payment_id: str, hours: int = 2) -> None:
    await world.confirm_db.execute(
        "UPDATE payments SET created_at = created_at - make_interval(hours => $2) WHERE payment_id = $1",
        payment_id,
        hours,
    )


async def _state(world: World, payment_id: str) -> dict:  # type: ignore[type-arg]
    return (await world.confirm.get(f"/payments/{payment_id}")).json()  # type: ignore[no-any-return]


async def _resolve(world: World) -> None:
    world.app.state.resolver.older_than_s = 0  # no need to wait for the minimum age here
    await world.app.state.resolver.run_once()


async def _resolve_until_final(world: World, payment_id: str, passes_max: int = 10) -> dict:  # type: ignore[type-arg]
    """Resolver passes until the payment is final (a slow bank under load may need more than
    one, as the worker's own loop would)."""
    for _ in range(passes_max):
        await _resolve(world)
        view = await _state(world, payment_id)
        if view["state"] in ("COMPLETED", "FAILED", "DECLINED"):
            break
    return view


async def test_confirm_after_the_hold_expired_never_calls_the_bank(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = first.json()["payment_id"]
    assert world.account_faults is not None and world.bank_faults is not None
    world.account_faults.lose_answer_of("POST", "/holds")
    lost = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k2"))
    assert lost.status_code in (202, 503), lost.text
    assert (await world.account.get(f"/holds/{payment_id}")).json()["status"] == "PENDING"
    await _age_hold(world, payment_id)

    again = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k3"))
    await _resolve(world)
    assert again.status_code == 422, again.text
    assert (again.json()["code"], again.json()["reason"]) == ("PAYMENT_FAILED", "HOLD_EXPIRED")
    assert (await _state(world, payment_id))["state"] == "FAILED"
    assert (await world.bank.get(f"/transfers/{payment_id}")).status_code == 404, "the bank paid"
    assert not [c for c in world.bank_faults.calls if "process-transfer" in c]
    assert await world.balance("ACC001") == 1_500_000 and await world.bank_balance("ACC001") == 1_500_000


async def test_the_resolver_never_resubmits_to_the_bank_on_an_expired_hold(world: World) -> None:
    assert world.bank_faults is not None
    world.bank_faults.down = True  # the bank never sees the transfer
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert response.status_code == 202 and response.json()["state"] == "PROCESSING", response.text
    payment_id = response.json()["payment_id"]
    await _age_hold(world, payment_id)
    world.bank_faults.down = False
    world.bank_faults.calls.clear()

    await _resolve_until_final(world, payment_id)
    assert (await world.bank.get(f"/transfers/{payment_id}")).status_code == 404, "resubmitted"
    assert not [c for c in world.bank_faults.calls if "process-transfer" in c]
    view = await _state(world, payment_id)
    assert (view["state"], view["failure_code"]) == ("FAILED", "HOLD_EXPIRED")
    assert await world.balance("ACC001") == 1_500_000 and await world.bank_balance("ACC001") == 1_500_000


async def test_a_hold_waiting_on_a_customer_is_short(world: World) -> None:
    """A hold whose answer was lost on the OTP path sits with a payment that waits on its
    customer: it lasts minutes (HOLD_WAIT_EXPIRY_S), not the bank's week."""
    world.stand_ins.decision = "CHALLENGE"
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = first.json()["payment_id"]
    assert world.account_faults is not None
    world.account_faults.lose_answer_of("POST", "/holds")
    await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k2"))
    hold = (await world.account.get(f"/holds/{payment_id}")).json()
    lasts_s = (
        datetime.fromisoformat(hold["expires_at"]) - datetime.fromisoformat(hold["created_at"])
    ).total_seconds()
    assert lasts_s <= world.app.state.settings.hold_wait_expiry_s + 5


async def test_a_lost_hold_answer_on_the_otp_path_is_finished_by_the_resolver(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = first.json()["payment_id"]
    assert world.account_faults is not None
    world.account_faults.lose_answer_of("POST", "/holds")
    lost = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k2"))
    # The code was right and the hold may have been placed: not "retry", but "processing".
    assert lost.status_code == 202, lost.text
    assert lost.json()["status"] == "PROCESSING" and lost.json()["payment_id"] == payment_id

    view = await _resolve_until_final(world, payment_id)
    assert view["state"] == "COMPLETED", view
    assert await world.balance("ACC001") == 1_490_000 and await world.bank_balance("ACC001") == 1_490_000
    hold = (await world.account.get(f"/holds/{payment_id}")).json()
    assert hold["status"] == "POSTED"


async def test_a_lost_hold_answer_on_review_approval_is_finished_by_the_resolver(world: World) -> None:
    world.stand_ins.decision = "REVIEW"
    held = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = held.json()["payment_id"]
    assert world.account_faults is not None
    world.account_faults.lose_answer_of("POST", "/holds")
    approved = await world.confirm.post(
        f"/payments/{payment_id}/review",
        json={"decision": "approve", "reviewer": "op"},
        headers={"Idempotency-Key": "r1"},
    )
    assert approved.status_code == 202, approved.text
    assert (await _resolve_until_final(world, payment_id))["state"] == "COMPLETED"
    assert await world.balance("ACC002") == 860_000


async def test_waiting_payments_expire_to_a_terminal_state_releasing_any_hold(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    otp = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    otp_id = otp.json()["payment_id"]
    world.stand_ins.decision = "REVIEW"
    review = await world.confirm.post(
        "/payment/confirm", json=payment(transaction_id="txn_review", amount="50.00"), headers=headers("k2")
    )
    review_id = review.json()["payment_id"]
    # Money held for the OTP payment by an earlier attempt that never reported back.
    placed = await world.account.post(
        "/holds",
        json={
            "hold_id": otp_id,
            "account_number": "ACC001",
            "to_account": "ACC002",
            "amount_minor": 10_000,
            "currency": "USD",
            "expires_in_s": 3600,
        },
    )
    assert placed.status_code == 201
    await _resolve(world)
    assert (await _state(world, otp_id))["state"] == "REQUIRES_OTP", "not expired yet"

    await _age_payment(world, otp_id)
    await _age_payment(world, review_id)
    await _resolve(world)
    otp_view, review_view = await _state(world, otp_id), await _state(world, review_id)
    assert (otp_view["state"], otp_view["failure_code"]) == ("FAILED", "PAYMENT_EXPIRED")
    assert (review_view["state"], review_view["failure_code"]) == ("FAILED", "PAYMENT_EXPIRED")
    assert (await world.account.get(f"/holds/{otp_id}")).json()["status"] == "VOIDED"
    assert (await world.account.get("/account/ACC001")).json()["available_minor"] == 1_500_000
    late = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k3"))
    assert late.status_code == 422 and late.json()["code"] == "PAYMENT_FAILED"
