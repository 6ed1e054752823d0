"""GET /payment-parties: a payment's two accounts and their owners in one call, for confirm's
checks and risk's screening; only those two (and ops) may read it."""

from __future__ import annotations

from account import store
from paykit.testing import service_headers

from .conftest import Ledger

PATH = "/payment-parties"


async def test_both_accounts_come_with_their_owners_name_and_country(ledger: Ledger) -> None:
    await ledger.open("ACC_P1", 10_000, customer_id="cust_p1")
    await ledger.open("ACC_P2", 0, customer_id="cust_p2")
    response = await ledger.client.get(PATH, params={"from_account": "ACC_P1", "to_account": "ACC_P2"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "payer": {
            "account_number": "ACC_P1",
            "customer_id": "cust_p1",
            "currency": "USD",
            "status": "ACTIVE",
            "customer": {"customer_id": "cust_p1", "full_name": "Holder ACC_P1", "country": None},
        },
        "payee": {
            "account_number": "ACC_P2",
            "customer_id": "cust_p2",
            "currency": "USD",
            "status": "ACTIVE",
            "customer": {"customer_id": "cust_p2", "full_name": "Holder ACC_P2", "country": None},
        },
    }


async def test_a_missing_or_system_account_is_null_not_an_error(ledger: Ledger) -> None:
    await ledger.open("ACC_P3", 10_000)
    async with ledger.pool.acquire() as conn:
        await store.ensure_system_account(conn, "SYS-SETTLEMENT-USD", "USD")
    for payer, payee, expected in [
        ("ACC_P3", "NOPE", {"payer": "ACC_P3", "payee": None}),
        ("NOPE", "ACC_P3", {"payer": None, "payee": "ACC_P3"}),
        ("SYS-SETTLEMENT-USD", "ACC_P3", {"payer": None, "payee": "ACC_P3"}),
    ]:
        response = await ledger.client.get(PATH, params={"from_account": payer, "to_account": payee})
        assert response.status_code == 200, response.text
        body = response.json()
        found = {role: (body[role] or {}).get("account_number") for role in ("payer", "payee")}
        assert found == expected


async def test_the_same_account_on_both_sides_is_named_twice(ledger: Ledger) -> None:
    await ledger.open("ACC_P4", 10_000)
    response = await ledger.client.get(PATH, params={"from_account": "ACC_P4", "to_account": "ACC_P4"})
    body = response.json()
    assert body["payer"]["account_number"] == body["payee"]["account_number"] == "ACC_P4"


async def test_one_side_alone_may_be_asked_but_not_neither(ledger: Ledger) -> None:
    await ledger.open("ACC_P7", 0, customer_id="cust_p7")
    response = await ledger.client.get(PATH, params={"to_account": "ACC_P7"})
    assert response.status_code == 200, response.text
    assert response.json()["payer"] is None
    assert response.json()["payee"]["customer"]["customer_id"] == "cust_p7"
    for params in ({}, {"from_account": ""}):
        response = await ledger.client.get(PATH, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_confirm_risk_and_ops_may_read_the_parties(ledger: Ledger) -> None:
    await ledger.open("ACC_P5", 10_000)
    await ledger.open("ACC_P6", 0)
    params = {"from_account": "ACC_P5", "to_account": "ACC_P6"}
    for caller, status in [("risk", 200), ("ops", 200), ("gateway", 403), ("notification", 403)]:
        response = await ledger.client.get(PATH, params=params, headers=service_headers(caller, "account"))
        assert response.status_code == status, (caller, response.text)
