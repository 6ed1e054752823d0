"""What the gateway refuses on its own before anything reaches the fleet."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from gateway.main import GatewaySettings, create_app
from paykit.testing import running_app

from .conftest import AccountStandIn, ConfirmRecorder, login

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


async def test_two_refreshes_with_one_token_at_once_give_one_session(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        token = (await login(client))["refresh_token"]
        answers = await asyncio.gather(
            *(client.post("/auth/refresh", json={"refresh_token": token}) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [200, 401, 401, 401], [a.text for a in answers]


async def test_a_login_session_has_an_absolute_lifetime(
    settings: GatewaySettings, confirm: ConfirmRecorder, account: AccountStandIn, client: httpx.AsyncClient
) -> None:
    short = settings.model_copy(update={"refresh_family_ttl_s": 1})
    async with running_app(create_app(short, transports={"confirm": httpx.MockTransport(confirm)})) as gw:
        tokens = await login(gw)
        rotated = await gw.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200
        await asyncio.sleep(1.2)
        late = await gw.post("/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
        assert late.status_code == 401, "rotating does not extend a login past its lifetime"


async def test_the_statement_fails_closed_when_ownership_cannot_be_checked(
    client: httpx.AsyncClient, account: AccountStandIn
) -> None:
    auth = {"Authorization": f"Bearer {(await login(client))['access_token']}"}
    assert (await client.get("/accounts/ACC001/entries", headers=auth)).status_code == 200
    account.lookup_down = True
    refused = await client.get("/accounts/ACC001/entries", headers=auth)
    assert refused.status_code == 503 and "amount_minor" not in refused.text


async def test_another_customers_account_looks_like_a_missing_one(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {(await login(client))['access_token']}"}
    for path in ("/accounts/{}", "/accounts/{}/entries"):
        other = await client.get(path.format("ACC002"), headers=auth)
        missing = await client.get(path.format("ACC404"), headers=auth)
        assert other.status_code == missing.status_code == 404
        assert {k: v for k, v in other.json().items() if k != "instance"} == {
            k: v for k, v in missing.json().items() if k != "instance"
        }


async def test_successful_logins_do_not_lock_a_user_out(client: httpx.AsyncClient) -> None:
    # The per-username limit is 5 a minute in these tests: it counts failed attempts only.
    for _ in range(8):
        await login(client)
    failures = [
        (await client.post("/auth/login", json={"username": "demo", "password": "wrong"})).status_code
        for _ in range(6)
    ]
    assert failures == [401] * 5 + [429]


SANCTIONS_REASONS = [{"code": "PAYEE_SANCTIONS_HIT", "detail": "The payee matches a sanctions list (sdn)"}]


async def test_a_customer_is_not_told_why_risk_declined(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    auth = await _auth(client)
    confirm.reply = (
        422,
        {"code": "PAYMENT_DECLINED", "state": "DECLINED", "detail": "declined", "reasons": SANCTIONS_REASONS},
    )
    declined = await client.post("/payment/confirm", json={**PAYMENT, "amount": "10.00"}, headers=auth)
    assert declined.status_code == 422 and declined.json()["code"] == "PAYMENT_DECLINED"
    assert "reasons" not in declined.json() and "SANCTIONS" not in declined.text
    confirm.reply = (
        200,
        {"state": "DECLINED", "risk": {"decision": "DENY", "score": 100, "reasons": SANCTIONS_REASONS}},
    )
    shown = await client.get("/payments/txn_h1", headers=auth)
    assert shown.status_code == 200 and shown.json()["state"] == "DECLINED"
    assert shown.json()["risk"] == {"decision": "DENY"} and "SANCTIONS" not in shown.text
    listed_reply = {"payments": [{"state": "DECLINED", "risk": {"reasons": SANCTIONS_REASONS}}]}
    confirm.reply = (200, listed_reply)
    listed = await client.get("/payments", headers=auth)
    assert "SANCTIONS" not in listed.text and listed.json()["payments"][0]["state"] == "DECLINED"


async def test_an_operator_sees_the_reasons(client: httpx.AsyncClient, confirm: ConfirmRecorder) -> None:
    ops = {"Authorization": f"Bearer {(await login(client, 'ops'))['access_token']}"}
    confirm.reply = (200, {"payments": [{"state": "UNDER_REVIEW", "risk": {"reasons": SANCTIONS_REASONS}}]})
    queue = await client.get("/operator/payments/under-review", headers=ops)
    assert queue.status_code == 200 and "PAYEE_SANCTIONS_HIT" in queue.text
