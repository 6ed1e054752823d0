"""The confirm flow against the real ledger and bank: money moves once, or not at all."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import World, as_customer, as_operator, headers, payment


async def test_allowed_payment_completes_and_moves_money_once(world: World) -> None:
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["state"], body["amount"], body["amount_minor"]) == (
        "SUCCESS",
        "COMPLETED",
        "100.00",
        10_000,
    )
    assert await world.balance("ACC001") == 1_490_000 and await world.balance("ACC002") == 860_000
    assert await world.bank_balance("ACC001") == 1_490_000
    replay = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert replay.json() == body and replay.headers["idempotent-replayed"] == "true"
    again = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k2"))
    assert again.status_code == 200 and again.json() == {**body, "already_confirmed": True}
    assert await world.balance("ACC001") == 1_490_000, "confirmed once, however often it is tried"


async def test_bad_amounts_are_422_and_create_nothing(world: World) -> None:
    for amount in ("0", "-5", "1000.505", "abc", None, True, "1e30", "1e3", "1e999999", "1e999990"):
        response = await world.confirm.post(
            "/payment/confirm", json=payment(amount=amount), headers=headers(f"bad-{amount}")
        )
        assert response.status_code == 422, amount
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] in {"INVALID_AMOUNT", "INVALID_AMOUNT_PRECISION"}, response.text
    listed = await world.confirm.get("/payments", params={"customer_id": "cust_001"}, headers=as_customer())
    assert listed.json()["payments"] == []


async def test_paying_from_someone_elses_account_is_refused(world: World) -> None:
    response = await world.confirm.post(
        "/payment/confirm", json=payment(from_account="ACC002", to_account="ACC001"), headers=headers("k")
    )
    assert response.status_code == 403 and response.json()["code"] == "ACCOUNT_OWNERSHIP_MISMATCH"
    unknown = await world.confirm.post(
        "/payment/confirm", json=payment(to_account="NOPE"), headers=headers("k2")
    )
    assert unknown.status_code == 404


async def test_denied_payment_is_declined_with_no_hold(world: World) -> None:
    world.stand_ins.decision = "DENY"
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k"))
    assert response.status_code == 422 and response.json()["code"] == "PAYMENT_DECLINED"
    payment_id = response.json()["payment_id"]
    world.stand_ins.decision = "ALLOW"  # a declined payment stays declined: risk is not asked again
    again = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k2"))
    assert again.status_code == 422 and again.json()["code"] == "PAYMENT_DECLINED"
    assert again.json()["state"] == "DECLINED"
    assert (await world.account.get(f"/holds/{payment_id}")).status_code == 404
    assert world.stand_ins.challenged == []


async def test_challenge_then_otp_completes(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert first.json()["status"] == "OTP_REQUIRED" and first.json()["state"] == "REQUIRES_OTP"
    wrong = await world.confirm.post("/payment/confirm", json=payment(otp="000000"), headers=headers("k2"))
    assert wrong.status_code == 422 and wrong.json()["code"] == "INVALID_OTP"
    right = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k3"))
    assert right.json()["status"] == "SUCCESS", right.text


async def test_past_the_otp_challenge_cap_the_payment_is_declined_and_the_customer_told(world: World) -> None:
    world.stand_ins.decision = "CHALLENGE"
    world.stand_ins.challenges_max = 3
    answers = [
        await world.confirm.post("/payment/confirm", json=payment(), headers=headers(f"k{i}"))
        for i in range(4)
    ]
    assert [a.json()["status"] for a in answers[:3]] == ["OTP_REQUIRED"] * 3
    declined = answers[3]
    assert declined.status_code == 422 and declined.json()["code"] == "PAYMENT_DECLINED", declined.text
    assert declined.json()["state"] == "DECLINED"
    right = await world.confirm.post("/payment/confirm", json=payment(otp="123456"), headers=headers("k9"))
    assert right.status_code == 422 and right.json()["state"] == "DECLINED", "no code can revive it"
    assert (await world.account.get(f"/holds/{declined.json()['payment_id']}")).status_code == 404
    assert await world.balance("ACC001") == 1_500_000
    pool = world.app.state.resources.require_pool()
    types = [r["t"] for r in await pool.fetch("SELECT event->>'type' AS t FROM outbox ORDER BY id")]
    assert types[-1] == "payment.declined", "the notification service tells the customer"


async def test_review_waits_for_an_operator(world: World) -> None:
    world.stand_ins.decision = "REVIEW"
    held = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert held.status_code == 202 and held.json()["state"] == "UNDER_REVIEW"
    payment_id = held.json()["payment_id"]
    assert await world.balance("ACC001") == 1_500_000, "nothing moves while under review"
    queue = (await world.confirm.get("/review-queue", headers=as_operator())).json()["payments"]
    assert [p["payment_id"] for p in queue] == [payment_id]
    approved = await world.confirm.post(
        f"/payments/{payment_id}/review",
        json={"decision": "approve", "reviewer": "ops"},
        headers=as_operator("r1"),
    )
    assert approved.status_code == 200 and approved.json()["state"] == "COMPLETED", approved.text
    assert await world.balance("ACC001") == 1_490_000


async def test_review_decline(world: World) -> None:
    world.stand_ins.decision = "REVIEW"
    held = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    declined = await world.confirm.post(
        f"/payments/{held.json()['payment_id']}/review",
        json={"decision": "decline"},
        headers=as_operator("r"),
    )
    assert declined.json()["state"] == "DECLINED"
    again = await world.confirm.post(
        f"/payments/{held.json()['payment_id']}/review",
        json={"decision": "approve"},
        headers=as_operator("r2"),
    )
    assert again.status_code == 409


async def test_insufficient_funds_fails_and_holds_nothing(world: World) -> None:
    response = await world.confirm.post(
        "/payment/confirm", json=payment(amount="15000.01"), headers=headers("k")
    )
    assert response.status_code == 422 and response.json()["code"] == "INSUFFICIENT_FUNDS"
    account = (await world.account.get("/account/ACC001")).json()
    assert account["held_minor"] == 0 and account["balance_minor"] == 1_500_000
    assert response.json()["state"] == "FAILED"


async def test_bank_timeout_after_executing_is_resolved_once_by_the_worker(world: World) -> None:
    assert world.bank_faults is not None
    # The bank executes the transfer; its answer never arrives (a timeout, as the caller sees it).
    world.bank_faults.lose_answer_of("POST", "/process-transfer")
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k"))
    assert response.status_code == 202 and response.json()["state"] == "PROCESSING"
    assert await world.balance("ACC001") == 1_500_000, "held, not yet captured"
    world.app.state.resolver.older_than_s = 0  # no need to wait for the minimum age here
    resolved = await world.app.state.resolver.run_once()
    assert resolved == 1
    got = (
        await world.confirm.get(f"/payments/{response.json()['payment_id']}", headers=as_customer())
    ).json()
    assert got["state"] == "COMPLETED"
    assert await world.balance("ACC001") == 1_490_000 and await world.bank_balance("ACC001") == 1_490_000
    assert await world.app.state.resolver.run_once() == 0, "nothing left to resolve"


async def test_bank_decline_releases_the_hold(world: World) -> None:
    await world.bank.post("/admin/faults", json={"mode": "decline", "count": 1})
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k"))
    assert response.status_code == 422 and response.json()["code"] == "PAYMENT_FAILED"
    hold = (await world.account.get(f"/holds/{response.json()['payment_id']}")).json()
    assert hold["status"] == "VOIDED"
    assert (await world.account.get("/account/ACC001")).json()["available_minor"] == 1_500_000


async def test_concurrent_confirms_of_one_payment_move_money_once(world: World) -> None:
    async def attempt(i: int) -> httpx.Response:
        return await world.confirm.post("/payment/confirm", json=payment(), headers=headers(f"key-{i}"))

    responses = await asyncio.gather(*(attempt(i) for i in range(10)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1, [r.json().get("code") for r in responses]
    assert set(codes) <= {200, 409}
    assert await world.balance("ACC001") == 1_490_000


async def test_a_crash_between_risk_and_hold_is_finished_by_the_resolver(world: World) -> None:
    """Risk allowed, the hold was placed, then the process died before recording it."""
    created = await world.confirm.post("/payments", json=payment(), headers=headers("c1"))
    payment_id = created.json()["payment_id"]
    await world.account.post(
        "/holds",
        json={
            "hold_id": payment_id,
            "account_number": "ACC001",
            "to_account": "ACC002",
            "amount_minor": 10_000,
            "currency": "USD",
            "customer_id": "cust_001",
        },
    )
    pool = world.app.state.deps.pool
    await pool.execute("UPDATE payments SET risk_decision = 'ALLOW' WHERE payment_id = $1", payment_id)
    world.app.state.resolver.older_than_s = 0  # no need to wait for the minimum age here
    assert await world.app.state.resolver.run_once() == 1
    final = (await world.confirm.get(f"/payments/{payment_id}", headers=as_customer())).json()
    assert final["state"] == "COMPLETED"
    assert await world.balance("ACC001") == 1_490_000, "the hold placed before the crash was used once"
