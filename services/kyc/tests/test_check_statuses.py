"""POST /check-statuses: a payment's payer and payee in one call, each answered exactly as
/check-status answers it, in the order asked; bounded, and only for risk (and ops)."""

from __future__ import annotations

import httpx
from paykit.testing import service_headers

from .test_verification import body, status


async def test_each_customer_is_answered_as_check_status_answers_in_order(client: httpx.AsyncClient) -> None:
    verified = await client.post("/customers/cust_batch_v/verification", json=body())
    assert verified.json()["status"] == "VERIFIED", verified.text
    ids = ["cust_batch_new", "cust_batch_v", "cust_batch_new"]
    response = await client.post("/check-statuses", json={"customer_ids": ids})
    assert response.status_code == 200, response.text
    answers = response.json()["statuses"]
    assert answers == [await status(client, customer_id) for customer_id in ids]
    expected = [("UNVERIFIED", 0), ("VERIFIED", 1), ("UNVERIFIED", 0)]
    assert [(a["status"], a["tier"]) for a in answers] == expected


async def test_no_ids_or_too_many_ids_are_problems(client: httpx.AsyncClient) -> None:
    for ids in ([], [f"cust_{n}" for n in range(11)], [""]):
        response = await client.post("/check-statuses", json={"customer_ids": ids})
        assert response.status_code == 422, (ids, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_risk_and_ops_may_ask(client: httpx.AsyncClient) -> None:
    for caller, expected in [("risk", 200), ("ops", 200), ("confirm", 403), ("gateway", 403)]:
        response = await client.post(
            "/check-statuses", json={"customer_ids": ["cust_x"]}, headers=service_headers(caller, "kyc")
        )
        assert response.status_code == expected, (caller, response.text)
