"""What the gateway refuses on its own before anything reaches the fleet."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ConfirmRecorder, login

PAYMENT = {
    "transaction_id": "txn_h1",
    "customer_id": "cust_001",
    "from_account": "ACC001",
    "to_account": "ACC002",
}


async def _auth(client: httpx.AsyncClient) -> dict[str, str]:
    token = (await login(client))["access_token"]
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-h1"}


@pytest.mark.parametrize("amount", ['"1e999990"', "1e999990", '"1e3"', '"10.001"', "1000.0000000000000001"])
async def test_an_amount_outside_the_grammar_is_a_422_that_never_reaches_confirm(
    client: httpx.AsyncClient, confirm: ConfirmRecorder, amount: str
) -> None:
    auth = await _auth(client)
    fields = ", ".join(f'"{k}": "{v}"' for k, v in PAYMENT.items())
    response = await client.post(
        "/payment/confirm",
        content=f'{{{fields}, "amount": {amount}}}',
        headers={**auth, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"INVALID_AMOUNT", "INVALID_AMOUNT_PRECISION"}
    assert confirm.requests == []


async def test_a_nul_character_in_a_payment_is_a_422(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    auth = await _auth(client)
    response = await client.post(
        "/payment/confirm", json={**PAYMENT, "amount": "10.00", "to_account": "ACC\x00002"}, headers=auth
    )
    assert response.status_code == 422 and response.json()["code"] == "INVALID_CHARACTER"
    assert confirm.requests == []
