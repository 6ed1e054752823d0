"""Only the gateway may act for a customer, and the customer travels inside its signed token:
a bare X-User-ID header proves nothing. Only operators (through the gateway) may review."""

from __future__ import annotations

from paykit.testing import service_headers

from .conftest import World, as_customer, as_operator, headers, payment


async def _nothing_created(world: World, transaction_id: str = "txn_test_1") -> None:
    seen = await world.confirm.get(f"/payments/{transaction_id}", headers=service_headers("ops", "confirm"))
    assert seen.status_code == 404, seen.text
    assert await world.balance("ACC001") == 1_500_000


async def test_a_bare_user_header_is_401_and_creates_nothing(world: World) -> None:
    response = await world.confirm.post(
        "/payment/confirm",
        json=payment(),
        headers={"Idempotency-Key": "k", "X-User-ID": "cust_001", "Authorization": ""},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "SERVICE_TOKEN_REQUIRED"
    await _nothing_created(world)


async def test_other_services_and_unnamed_principals_are_403(world: World) -> None:
    for signed, code in [
        (service_headers("risk", "confirm", subject="cust_001"), "CALLER_NOT_ALLOWED"),
        (service_headers("ops", "confirm"), "CALLER_NOT_ALLOWED"),
        (service_headers("gateway", "confirm"), "PRINCIPAL_REQUIRED"),
        (as_customer("cust_002"), "CUSTOMER_MISMATCH"),
    ]:
        response = await world.confirm.post(
            "/payment/confirm", json=payment(), headers={"Idempotency-Key": "k"} | signed
        )
        assert response.status_code == 403, response.text
        assert response.json()["code"] == code
    await _nothing_created(world)


async def test_only_operators_review(world: World) -> None:
    world.stand_ins.decision = "REVIEW"
    held = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    payment_id = held.json()["payment_id"]
    review = f"/payments/{payment_id}/review"
    approve = {"decision": "approve", "reviewer": "mallory"}
    for signed, code in [
        ({"Authorization": ""}, "SERVICE_TOKEN_REQUIRED"),
        (as_customer(), "ROLE_REQUIRED"),
        (service_headers("ops", "confirm"), "CALLER_NOT_ALLOWED"),
        (service_headers("account", "confirm", roles=["operator"]), "CALLER_NOT_ALLOWED"),
    ]:
        refused = await world.confirm.post(review, json=approve, headers={"Idempotency-Key": "r"} | signed)
        assert refused.json()["code"] == code, refused.text
    assert (await world.confirm.get("/review-queue", headers=as_customer())).status_code == 403
    state = await world.confirm.get(f"/payments/{payment_id}", headers=as_customer())
    assert state.json()["state"] == "UNDER_REVIEW"
    approved = await world.confirm.post(review, json=approve, headers=as_operator("r-ok"))
    assert approved.status_code == 200 and approved.json()["state"] == "COMPLETED", approved.text


async def test_a_customer_reads_only_their_own_payments(world: World) -> None:
    created = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    path = f"/payments/{created.json()['payment_id']}"
    assert (await world.confirm.get(path, headers=as_customer())).status_code == 200
    assert (await world.confirm.get(path, headers=as_customer("cust_002"))).status_code in (403, 404)
    assert (await world.confirm.get(path, headers=service_headers("ops", "confirm"))).status_code == 200
    assert (await world.confirm.get(path, headers={"Authorization": ""})).status_code == 401


async def test_reconciliation_reads_the_states_of_many_payments_in_one_call(world: World) -> None:
    made = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k-states"))
    payment_id = made.json()["payment_id"]
    state = (await world.confirm.get(f"/payments/{payment_id}", headers=as_customer())).json()["state"]
    ids = {"payment_ids": [payment_id, "pay_never_made"]}

    answer = await world.confirm.post(
        "/reconciliation/states", json=ids, headers=service_headers("account", "confirm")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"states": {payment_id: state}}  # unknown ids are left out

    too_many = {"payment_ids": [f"pay_{i}" for i in range(1_001)]}
    refused = await world.confirm.post(
        "/reconciliation/states", json=too_many, headers=service_headers("account", "confirm")
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    for signed in (as_customer(), service_headers("risk", "confirm")):
        assert (
            await world.confirm.post("/reconciliation/states", json=ids, headers=signed)
        ).status_code == 403
