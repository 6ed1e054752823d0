"""Risk keeps a customer's KYC status and screening between payments (risk/cache.py); a
change made at kyc must still decide the customer's very next payment, not one a minute
later when the kept answer expires."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx
import pytest

from .conftest import login, new_key, payment_body

pytestmark = pytest.mark.integration
# What the local fleet's kyc runs with (KycSettings); a running fleet names its own.
REVIEWER_TOKEN = os.environ.get("KYC_REVIEWER_TOKEN", "dev-only-secret-change-me")


def _pay(gateway: httpx.Client, auth: dict[str, str]) -> httpx.Response:
    body = payment_body("cust_001", "0.01", "ACC001", "ACC002")
    return gateway.post("/payment/confirm", json=body, headers={**auth, **new_key()})


def test_a_kyc_hold_decides_the_very_next_payment_and_so_does_its_release(
    gateway: httpx.Client, services: dict[str, httpx.Client], service_token: Callable[..., str]
) -> None:
    auth = login(gateway, "demo")
    kyc = services["kyc"]
    tier = kyc.get("/customers/cust_001").json()["tier"]
    paid = _pay(gateway, auth)
    assert paid.status_code == 200 and paid.json()["status"] == "SUCCESS", paid.text

    # A re-screening hit, as ofac records it: the customer goes before a reviewer.
    hit = kyc.post(
        "/customers/cust_001/sanctions-hits",
        json={
            "list_name": "SDN",
            "list_version": "integration-test",
            "screened_name": "John Smith",
            "matches": [{"entity_id": "test-1", "name": "SMITH, John", "score": 0.95, "band": "BLOCK"}],
        },
        headers={"Authorization": f"Bearer {service_token('ofac', 'kyc')}"},
    )
    assert hit.status_code == 200 and hit.json()["status"] == "MANUAL_REVIEW", hit.text
    try:
        held = _pay(gateway, auth)
        assert held.status_code == 422 and held.json()["code"] == "PAYMENT_DECLINED", held.text
    finally:
        approved = kyc.post(
            "/customers/cust_001/review/approve",
            json={"reviewer": "integration-test", "note": "not the listed party", "tier": tier},
            headers={"Authorization": f"Bearer {REVIEWER_TOKEN}"},
        )
        assert approved.status_code == 200 and approved.json()["status"] == "VERIFIED", approved.text
    again = _pay(gateway, auth)
    assert again.status_code == 200 and again.json()["status"] == "SUCCESS", again.text
