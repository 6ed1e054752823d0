"""Payments end to end through nginx, as the issue's checks describe them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from .conftest import OTP_RESEND_COOLDOWN_S, balances, login, new_key, payment_body

pytestmark = pytest.mark.integration
POLL_TIMEOUT_S = 30


def confirm(
    gateway: httpx.Client, auth: dict[str, str], body: dict[str, Any], key: dict[str, str] | None = None
):
    return gateway.post("/payment/confirm", json=body, headers={**auth, **(key or new_key())})


def wait_for_state(
    gateway: httpx.Client, auth: dict[str, str], payment_id: str, states: set[str]
) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        payment = gateway.get(f"/payments/{payment_id}", headers=auth).json()
        if payment["state"] in states or time.monotonic() > deadline:
            return payment  # type: ignore[no-any-return]
        time.sleep(0.3)


def latest_code(services: dict[str, httpx.Client], phone: str, after: str | None = None) -> str:
    deadline = time.monotonic() + 10
    while True:
        messages = services["notification"].get("/dev/inbox", params={"recipient": phone}).json()["messages"]
        fresh = [m for m in messages if m["id"] != after]
        if fresh:
            body = fresh[0]["body"]
            return next(word for word in body.replace(".", " ").split() if word.isdigit() and len(word) == 6)
        assert time.monotonic() < deadline, "no OTP reached the dev inbox"
        time.sleep(0.2)


def latest_message_id(services: dict[str, httpx.Client], phone: str) -> str | None:
    messages = services["notification"].get("/dev/inbox", params={"recipient": phone}).json()["messages"]
    return messages[0]["id"] if messages else None


def test_seed_readme_flow_moves_money_once_in_ledger_and_bank(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    before = {acc: balances(services, acc) for acc in ("ACC001", "ACC002")}
    body = payment_body("cust_001", 1000.00, "ACC001", "ACC002")
    response = confirm(gateway, auth, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "SUCCESS" and answer["state"] == "COMPLETED"
    assert (
        answer["transaction_id"] == body["transaction_id"] and answer["reference"] and answer["confirmed_at"]
    )
    after = {acc: balances(services, acc) for acc in ("ACC001", "ACC002")}
    for key in ("ledger", "bank", "available"):
        assert after["ACC001"][key] == before["ACC001"][key] - 100_000
        assert after["ACC002"][key] == before["ACC002"][key] + 100_000


def test_same_key_twenty_times_at_once_makes_one_payment_and_one_debit(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    before = balances(services, "ACC001")
    body = payment_body("cust_001", "10.00", "ACC001", "ACC002")
    key = new_key()
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: confirm(gateway, auth, body, key), range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses.count(200) >= 1
    final = wait_for_state(gateway, auth, body["transaction_id"], {"COMPLETED"})
    assert final["state"] == "COMPLETED"
    assert balances(services, "ACC001")["ledger"] == before["ledger"] - 1_000
    replay = confirm(gateway, auth, body, key)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    other_body = confirm(gateway, auth, {**body, "amount": "11.00"}, key)
    assert other_body.status_code == 422 and other_body.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_payment_cannot_be_confirmed_twice(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    body = payment_body("cust_001", "5.00", "ACC001", "ACC002")
    first = confirm(gateway, auth, body)
    assert first.status_code == 200
    before = balances(services, "ACC001")
    again = confirm(gateway, auth, body)  # a new key: a second confirmation, not a replay
    assert again.status_code == 200 and again.json()["already_confirmed"] is True
    assert (again.json()["reference"], again.json()["confirmed_at"]) == (
        first.json()["reference"],
        first.json()["confirmed_at"],
    )
    changed = confirm(gateway, auth, {**body, "amount": "6.00"})
    assert changed.status_code == 422 and changed.json()["code"] == "TRANSACTION_MISMATCH"
    assert balances(services, "ACC001") == before
    history = gateway.get(f"/payments/{body['transaction_id']}", headers=auth).json()["history"]
    assert [h["to"] for h in history].count("COMPLETED") == 1


def test_high_amount_needs_an_otp_that_burns_after_five_wrong_codes(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "jane")  # KYC unverified: 6,000.00 scores 30 + 40 -> CHALLENGE
    phone = services["account"].get("/customers/cust_002").json()["phone"]
    before = balances(services, "ACC002")
    body = payment_body("cust_002", "6000.00", "ACC002", "ACC001")
    last_seen = latest_message_id(services, phone)
    first = confirm(gateway, auth, body)
    assert first.status_code == 200 and first.json()["status"] == "OTP_REQUIRED", first.text
    code = latest_code(services, phone, after=last_seen)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    codes = [confirm(gateway, auth, {**body, "otp": wrong}).json()["code"] for _ in range(5)]
    assert codes[:4] == ["INVALID_OTP"] * 4 and codes[4] in {"INVALID_OTP", "OTP_LOCKED"}
    burned = confirm(gateway, auth, {**body, "otp": code})
    assert burned.status_code == 422 and burned.json()["code"] == "OTP_LOCKED", burned.text
    assert balances(services, "ACC002") == before, "nothing held while the OTP is pending"

    last_seen = latest_message_id(services, phone)
    cooling = confirm(gateway, auth, body)  # a burned code keeps the resend cooldown: no fresh guesses
    assert cooling.json()["status"] == "OTP_REQUIRED" and cooling.json()["otp_resent"] is False
    time.sleep(OTP_RESEND_COOLDOWN_S + 0.5)
    fresh = confirm(gateway, auth, body)
    assert fresh.json()["status"] == "OTP_REQUIRED", fresh.text
    new_code = latest_code(services, phone, after=last_seen)

    other = payment_body("cust_002", "7000.00", "ACC002", "ACC001")
    assert confirm(gateway, auth, other).json()["status"] == "OTP_REQUIRED"
    cross = confirm(gateway, auth, {**other, "otp": new_code})
    assert cross.status_code == 422, "an OTP of one payment fails on another"

    done = confirm(gateway, auth, {**body, "otp": new_code})
    assert done.status_code == 200 and done.json()["status"] == "SUCCESS", done.text
    assert balances(services, "ACC002")["ledger"] == before["ledger"] - 600_000


def _declined_with_nothing_held(
    gateway: httpx.Client,
    services: dict[str, httpx.Client],
    auth: dict[str, str],
    body: dict[str, Any],
    accounts: tuple[str, ...],
) -> dict[str, Any]:
    """The payment is declined before any challenge or hold, and no balance moved."""
    before = {acc: balances(services, acc) for acc in accounts}
    response = confirm(gateway, auth, body)
    assert response.status_code == 422 and response.json()["code"] == "PAYMENT_DECLINED", response.text
    payment: dict[str, Any] = gateway.get(f"/payments/{body['transaction_id']}", headers=auth).json()
    assert payment["state"] == "DECLINED"
    assert "REQUIRES_OTP" not in [h["to"] for h in payment["history"]]
    assert services["account"].get(f"/holds/{payment['payment_id']}").status_code == 404
    assert {acc: balances(services, acc) for acc in accounts} == before
    return payment


def test_sanctioned_customer_is_declined_without_otp_or_hold(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "noriega")
    body = payment_body("cust_003", "100.00", "ACC003", "ACC001")
    _declined_with_nothing_held(gateway, services, auth, body, ("ACC003",))


def test_paying_a_sanctioned_customers_account_is_declined_without_otp_or_hold(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    # Risk screens the payee's owner from the parties confirm read from account and sent along.
    auth = login(gateway, "demo")
    body = payment_body("cust_001", "10.00", "ACC001", "ACC003")
    payment = _declined_with_nothing_held(gateway, services, auth, body, ("ACC001", "ACC003"))
    [assessed] = (
        services["risk"]
        .get("/assessments", params={"transaction_id": payment["payment_id"]})
        .json()["assessments"]
    )
    assert "PAYEE_SANCTIONS_HIT" in [r["code"] for r in assessed["reasons"]]


def test_insufficient_funds_is_a_clear_4xx_and_holds_nothing(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    phone = services["account"].get("/customers/cust_001").json()["phone"]
    before = balances(services, "ACC001")
    body = payment_body("cust_001", "20000.00", "ACC001", "ACC002")
    last_seen = latest_message_id(services, phone)
    challenge = confirm(gateway, auth, body)  # > 10,000.00 scores 50: step-up first
    assert challenge.json()["status"] == "OTP_REQUIRED", challenge.text
    response = confirm(gateway, auth, {**body, "otp": latest_code(services, phone, after=last_seen)})
    assert response.status_code == 422 and response.json()["code"] == "INSUFFICIENT_FUNDS", response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert balances(services, "ACC001") == before


def test_bank_timeout_after_executing_ends_completed_and_debited_once(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    before = balances(services, "ACC001")
    fault = services["partner_bank"].post(
        "/admin/faults", json={"mode": "timeout_after_execute", "count": 1, "latency_ms": 4000}
    )
    assert fault.status_code in (200, 201), fault.text
    body = payment_body("cust_001", "25.00", "ACC001", "ACC002")
    response = confirm(gateway, auth, body)
    assert response.status_code == 202 and response.json()["state"] == "PROCESSING", response.text
    final = wait_for_state(gateway, auth, body["transaction_id"], {"COMPLETED", "FAILED"})
    assert final["state"] == "COMPLETED"
    after = balances(services, "ACC001")
    assert after["ledger"] == before["ledger"] - 2_500 and after["bank"] == before["bank"] - 2_500


def test_bank_decline_fails_the_payment_and_releases_the_hold(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    before = balances(services, "ACC001")
    services["partner_bank"].post("/admin/faults", json={"mode": "decline", "count": 1})
    body = payment_body("cust_001", "30.00", "ACC001", "ACC002")
    response = confirm(gateway, auth, body)
    assert response.status_code == 422 and response.json()["code"] == "PAYMENT_FAILED", response.text
    payment = gateway.get(f"/payments/{body['transaction_id']}", headers=auth).json()
    assert payment["state"] == "FAILED"
    hold = services["account"].get(f"/holds/{payment['payment_id']}").json()
    assert hold["status"] == "VOIDED"
    assert balances(services, "ACC001") == before


def test_customer_sees_only_own_accounts(gateway: httpx.Client) -> None:
    auth = login(gateway, "demo")
    own = gateway.get("/accounts/ACC001", headers=auth)
    assert own.status_code == 200 and own.json()["customer_id"] == "cust_001"
    assert gateway.get("/accounts/ACC002", headers=auth).status_code == 404, "same as a missing account"
    pay_from_other = confirm(
        gateway,
        auth,
        payment_body("cust_001", "1.00", "ACC002", "ACC001"),
    )
    assert pay_from_other.status_code == 403


def test_a_customer_reads_their_own_otp_through_the_gateway(gateway: httpx.Client) -> None:
    demo = login(gateway, "demo")
    body = payment_body("cust_001", "10000.01", "ACC001", "ACC002")  # over 10,000.00 scores 50: step-up
    assert confirm(gateway, demo, body).json()["status"] == "OTP_REQUIRED"
    messages = gateway.get("/dev/inbox", headers=demo).json()["messages"]
    code = next(w for w in messages[0]["body"].replace(".", " ").split() if w.isdigit() and len(w) == 6)
    jane_messages = gateway.get("/dev/inbox", headers=login(gateway, "jane")).json()["messages"]
    assert all(code not in m["body"] for m in jane_messages), "only your own messages"
    done = confirm(gateway, demo, {**body, "otp": code})
    assert done.json()["status"] == "SUCCESS", done.text
