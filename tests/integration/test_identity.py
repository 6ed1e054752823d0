"""Service identity on the real fleet: the internal money routes answer only their callers,
directly and through nginx, and nothing moves when they refuse."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from .conftest import SERVICE_URLS, balances

pytestmark = pytest.mark.integration

HOLD = {"hold_id": "h-intruder", "account_number": "ACC001", "to_account": "ACC002", "amount_minor": 100}
TRANSFER = {"reference": "t-intruder", "from_account": "ACC001", "to_account": "ACC002", "amount_minor": 100}


def test_account_holds_answer_only_confirm(
    services: dict[str, httpx.Client], service_token: Callable[[str, str], str]
) -> None:
    before = balances(services, "ACC001")
    with httpx.Client(base_url=SERVICE_URLS["account"], timeout=10) as account:
        anonymous = account.post("/holds", json=HOLD)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        as_gateway = {"Authorization": f"Bearer {service_token('gateway', 'account')}"}
        refused = account.post("/holds", json=HOLD, headers=as_gateway)
        assert (refused.status_code, refused.json()["code"]) == (403, "CALLER_NOT_ALLOWED")
        capture = account.post("/holds/h-intruder/capture", json={}, headers=as_gateway)
        assert capture.status_code == 403
    assert balances(services, "ACC001") == before


def test_the_bank_pays_only_for_confirm(
    services: dict[str, httpx.Client], service_token: Callable[[str, str], str]
) -> None:
    before = balances(services, "ACC001")
    with httpx.Client(base_url=SERVICE_URLS["partner_bank"], timeout=10) as bank:
        assert bank.post("/process-transfer", json=TRANSFER).status_code == 401
        # confirm's own token, but addressed to account: not valid at the bank
        misaddressed = {"Authorization": f"Bearer {service_token('confirm', 'account')}"}
        assert bank.post("/process-transfer", json=TRANSFER, headers=misaddressed).status_code == 401
    assert balances(services, "ACC001") == before


def test_confirm_does_not_trust_a_bare_user_header() -> None:
    body = {"transaction_id": "txn_forged", "customer_id": "cust_001", "amount": "1.00"}
    body |= {"from_account": "ACC001", "to_account": "ACC002"}
    with httpx.Client(base_url=SERVICE_URLS["confirm"], timeout=10) as confirm:
        forged = confirm.post(
            "/payment/confirm", json=body, headers={"X-User-ID": "cust_001", "Idempotency-Key": "forged"}
        )
    assert (forged.status_code, forged.json()["code"]) == (401, "SERVICE_TOKEN_REQUIRED")


def test_internal_money_routes_are_not_reachable_through_nginx(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    before = balances(services, "ACC001")
    for path, body in [
        ("/holds", HOLD),
        ("/holds/h-intruder/capture", {}),
        ("/process-transfer", TRANSFER),
        ("/reserve-funds", HOLD),
        ("/payments/p/review", {"decision": "approve"}),
    ]:
        response = gateway.post(path, json=body)
        assert response.status_code in (401, 404), (path, response.status_code)
    assert balances(services, "ACC001") == before
