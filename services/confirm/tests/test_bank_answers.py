"""Issue 9 item 6: the bank's answers are read strictly. Only a transfer body saying
COMPLETED or REJECTED is an outcome; anything else is unknown and settled by inquiry."""

from __future__ import annotations

import httpx

from .conftest import World, headers, payment

PROBLEM = {"type": "about:blank", "title": "Unprocessable", "status": 422, "code": "VALIDATION_ERROR"}


async def test_a_bank_error_body_is_not_a_transfer_status(world: World) -> None:
    assert world.bank_faults is not None
    world.bank_faults.answer_next(
        "POST",
        "/process-transfer",
        httpx.Response(422, json=PROBLEM, headers={"content-type": "application/problem+json"}),
    )
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = response.json()["payment_id"]
    view = (await world.confirm.get(f"/payments/{payment_id}")).json()
    # The bank refused and (asked again) never executed it: the payment fails, the hold is released.
    assert view["state"] == "FAILED", view
    assert response.status_code == 422 and response.json()["code"] == "PAYMENT_FAILED"
    assert (await world.account.get(f"/holds/{payment_id}")).json()["status"] == "VOIDED"
    assert await world.balance("ACC001") == 1_500_000


async def test_an_answer_that_is_not_a_transfer_is_an_unknown_outcome_settled_by_inquiry(
    world: World,
) -> None:
    """`{"success": true}` without a status is not the bank saying it paid: our ledger must
    not capture what the bank never moved."""
    assert world.bank_faults is not None
    world.bank_faults.answer_next("POST", "/process-transfer", httpx.Response(200, json={"success": True}))
    response = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert response.status_code == 202 and response.json()["state"] == "PROCESSING", response.text
    payment_id = response.json()["payment_id"]
    world.app.state.resolver.older_than_s = 0
    for _ in range(10):  # asks the bank: never executed -> submitted now (a slow bank: again)
        await world.app.state.resolver.run_once()
        if (await world.confirm.get(f"/payments/{payment_id}")).json()["state"] != "PROCESSING":
            break
    assert (await world.confirm.get(f"/payments/{payment_id}")).json()["state"] == "COMPLETED"
    assert (await world.bank.get(f"/transfers/{payment_id}")).json()["status"] == "COMPLETED"
    assert await world.balance("ACC001") == 1_490_000 and await world.bank_balance("ACC001") == 1_490_000
