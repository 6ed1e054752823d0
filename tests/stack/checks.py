"""What the stack tests check through the edge, shared by the process stack (test_stack.py)
and the real `docker compose up` (test_compose_up.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PAYMENT_MINOR = 2_500


def login(edge: httpx.Client, username: str = "demo") -> dict[str, str]:
    response = edge.post("/auth/login", json={"username": username, "password": "password123"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def pay_once_through_the_edge(edge: httpx.Client) -> dict[str, Any]:
    """The seed README's payment (demo, ACC001 -> ACC002): completed, and ACC001 debited once."""
    auth = login(edge)
    before = edge.get("/accounts/ACC001", headers=auth)
    assert before.status_code == 200, before.text
    body = {
        "transaction_id": f"txn_{uuid.uuid4().hex[:12]}",
        "customer_id": "cust_001",
        "amount": f"{PAYMENT_MINOR / 100:.2f}",
        "from_account": "ACC001",
        "to_account": "ACC002",
    }
    response = edge.post(
        "/payment/confirm", json=body, headers={**auth, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "SUCCESS" and answer["state"] == "COMPLETED", answer
    after = edge.get("/accounts/ACC001", headers=auth).json()
    assert after["balance_minor"] == before.json()["balance_minor"] - PAYMENT_MINOR
    return answer
