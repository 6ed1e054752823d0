"""Only confirm moves money: a hold without a service token is 401, with another service's
token 403, and neither changes a balance."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paykit.identity import mint
from paykit.testing import service_headers

from .conftest import Ledger


def _problem(response_code: int, body: dict[str, object], code: str) -> None:
    assert body["code"] == code, body
    assert body["status"] == response_code


async def test_a_hold_without_a_service_token_is_401_and_holds_nothing(ledger: Ledger) -> None:
    await ledger.open("ACC_T1", 10_000)
    await ledger.open("ACC_T2", 0)
    response = await ledger.client.post(
        "/holds",
        json={"hold_id": "h-anon", "account_number": "ACC_T1", "to_account": "ACC_T2", "amount_minor": 500},
        headers={"Authorization": ""},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    _problem(401, response.json(), "SERVICE_TOKEN_REQUIRED")
    assert await ledger.available("ACC_T1") == 10_000


async def test_the_gateway_may_not_hold_capture_or_release(ledger: Ledger) -> None:
    await ledger.open("ACC_G1", 10_000)
    await ledger.open("ACC_G2", 0)
    gateway = service_headers("gateway", "account", subject="cust_ACC_G1")
    held = await ledger.client.post(
        "/holds",
        json={"hold_id": "h-gw", "account_number": "ACC_G1", "to_account": "ACC_G2", "amount_minor": 500},
        headers=gateway,
    )
    assert held.status_code == 403
    _problem(403, held.json(), "CALLER_NOT_ALLOWED")
    assert (await ledger.hold("h-ok", "ACC_G1", "ACC_G2", 500)).status_code == 201
    for action in ("capture", "release"):
        refused = await ledger.client.post(f"/holds/h-ok/{action}", json={}, headers=gateway)
        assert refused.status_code == 403, refused.text
    assert await ledger.available("ACC_G1") == 9_500
    assert (await ledger.account("ACC_G1"))["balance_minor"] == 10_000


async def test_forged_expired_and_misaddressed_tokens_are_401(ledger: Ledger) -> None:
    await ledger.open("ACC_F1", 10_000)
    await ledger.open("ACC_F2", 0)
    body = {"hold_id": "h-forged", "account_number": "ACC_F1", "to_account": "ACC_F2", "amount_minor": 100}
    forged = mint(Ed25519PrivateKey.generate(), "confirm", "account")
    expired = mint(Ed25519PrivateKey.generate(), "confirm", "account", now=time.time() - 3600)
    for token in (forged, expired, "not-a-jwt"):
        response = await ledger.client.post("/holds", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        _problem(401, response.json(), "SERVICE_TOKEN_INVALID")
    # confirm's real token, but addressed to the partner bank
    elsewhere = service_headers("confirm", "partner_bank")
    assert (await ledger.client.post("/holds", json=body, headers=elsewhere)).status_code == 401
    assert await ledger.available("ACC_F1") == 10_000


async def test_operations_routes_stay_open(ledger: Ledger) -> None:
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/.well-known/service-jwks.json"):
        response = await ledger.client.get(path, headers={"Authorization": ""})
        assert response.status_code == 200, path
    jwks = (await ledger.client.get("/.well-known/service-jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == ["account"]
