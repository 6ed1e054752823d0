"""Customers, accounts, statements, the seed's validate/reserve routes, and the journal's
own guarantees (balanced entries, append-only)."""

from __future__ import annotations

import asyncpg
import pytest
from account.main import AccountSettings, create_app
from paykit import MoneyError, parse_amount_minor
from paykit.testing import running_app

from .conftest import SEED_DIR, Ledger, ops


async def test_seed_is_idempotent_and_sums_to_zero(db_url: str) -> None:
    settings = AccountSettings(
        app_env="test",
        postgres_url=db_url,
        dev_seed_file=str(SEED_DIR / "account.sql"),
        hold_sweep_interval_s=0,
        reconciliation_interval_s=0,
    )
    for _ in range(2):  # the second start applies the seed again
        app = create_app(settings)
        async with running_app(app, caller="confirm") as client:
            ledger = Ledger(client, app.state.resources.require_pool())
            balances = {n: (await ledger.account(n))["balance"] for n in ("ACC001", "ACC002", "ACC003")}
            assert balances == {"ACC001": "15000.00", "ACC002": "8500.00", "ACC003": "5000.00"}
            noriega = (await client.get("/customers/cust_003", headers=ops())).json()
            assert noriega == {
                "customer_id": "cust_003",
                "full_name": "Manuel Antonio Noriega",
                "email": "noriega@example.com",
                "phone": "+5075550100",
                "country": "PA",
            }
            assert (await ledger.account("ACC001"))["customer_id"] == "cust_001"
            entries = (await client.get("/account/ACC002/entries", headers=ops())).json()["entries"]
            assert [(e["kind"], e["amount"], e["direction"]) for e in entries] == [
                ("FUNDING", "8500.00", "CREDIT")
            ]
            await ledger.assert_consistent()


async def test_unknown_ids_are_problems(ledger: Ledger) -> None:
    for path, code in [
        ("/customers/nobody", "CUSTOMER_NOT_FOUND"),
        ("/account/NOPE", "ACCOUNT_NOT_FOUND"),
        ("/account/SYS-FUNDING-USD", "ACCOUNT_NOT_FOUND"),
        ("/account/NOPE/entries", "ACCOUNT_NOT_FOUND"),
        ("/holds/nothing", "HOLD_NOT_FOUND"),
    ]:
        response = await ledger.client.get(path, headers=ops())
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code


async def test_statement_pages_newest_first(db_url: str) -> None:
    settings = AccountSettings(
        app_env="test",
        postgres_url=db_url,
        hold_sweep_interval_s=0,
        reconciliation_interval_s=0,
        entries_page_size_max=3,
    )
    app = create_app(settings)
    async with running_app(app, caller="confirm") as client:
        ledger = Ledger(client, app.state.resources.require_pool())
        await ledger.open("S1", 100_000)
        await ledger.open("S2", 0)
        for i in range(1, 6):
            await ledger.hold(f"s-{i}", "S1", "S2", i * 100)
            await client.post(f"/holds/s-{i}/capture")
        seen: list[str | None] = []
        cursor = None
        while True:
            params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/account/S1/entries", params=params, headers=ops())).json()
            assert len(page["entries"]) <= 3
            seen.extend(e["reference"] for e in page["entries"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["s-5", "s-4", "s-3", "s-2", "s-1", None]
        bad = await client.get("/account/S1/entries", params={"cursor": "abc"}, headers=ops())
        assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_CURSOR")
        zero = await client.get("/account/S1/entries", params={"limit": 0}, headers=ops())
        assert zero.status_code == 422


async def test_validate_account_checks_owner_and_available_balance(ledger: Ledger) -> None:
    await ledger.open("V1", 100_000, customer_id="cust_v")
    await ledger.open("V2", 0)
    await ledger.hold("v-hold", "V1", "V2", 60_000)

    async def validate(**body: object) -> dict[str, object]:
        response = await ledger.client.post("/validate-account", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    assert (await validate(account_number="NOPE"))["reason"] == "ACCOUNT_NOT_FOUND"
    assert (await validate(account_number="V1", customer_id="cust_x"))[
        "reason"
    ] == "ACCOUNT_OWNERSHIP_MISMATCH"
    ok = await validate(account_number="V1", customer_id="cust_v", required_amount="400.00")
    assert ok["valid"] is True
    short = await validate(account_number="V1", customer_id="cust_v", required_amount=400.01)
    assert (short["valid"], short["reason"]) == (False, "INSUFFICIENT_FUNDS")
    assert (short["available_balance"], short["required_amount"]) == ("400.00", "400.01")
    bad = await ledger.client.post(
        "/validate-account", json={"account_number": "V1", "required_amount": "1.001"}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_AMOUNT_PRECISION")
    missing = await ledger.client.post("/validate-account", json={"customer_id": "cust_v"})
    assert missing.status_code == 422


@pytest.mark.parametrize(("amount", "minor"), [(1000, 100_000), (1000.5, 100_050), ("1000.50", 100_050)])
def test_amount_parsing_accepts_seed_decimals(amount: object, minor: int) -> None:
    assert parse_amount_minor(amount, "USD") == minor


def test_amount_parsing_rejects_sub_cent_usd() -> None:
    for value in (1000.505, "1000.505"):
        with pytest.raises(MoneyError) as caught:
            parse_amount_minor(value, "USD")
        assert caught.value.code == "INVALID_AMOUNT_PRECISION"


async def test_reserve_funds_parses_amounts_exactly(ledger: Ledger) -> None:
    await ledger.open("R1", 1_000_000)
    for i, (amount, minor) in enumerate([(1000, 100_000), (1000.5, 100_050), ("1000.50", 100_050)]):
        body = {"account_number": "R1", "amount": amount, "transaction_id": f"txn-{i}"}
        response = await ledger.client.post("/reserve-funds", json=body)
        assert response.status_code == 201, response.text
        assert (response.json()["success"], response.json()["amount_minor"]) == (True, minor)
        replay = await ledger.client.post("/reserve-funds", json=body)
        assert replay.json() == response.json()
    for amount in (1000.505, "1000.505", "abc", -5, 0):
        body = {"account_number": "R1", "amount": amount, "transaction_id": "txn-bad"}
        response = await ledger.client.post("/reserve-funds", json=body)
        assert response.status_code == 422, amount
    assert (await ledger.account("R1"))["held_minor"] == 300_100
    settle = await ledger.client.post("/holds/txn-0/capture")
    assert settle.json()["to_account"] == "SYS-SETTLEMENT-USD"
    short = await ledger.client.post(
        "/reserve-funds", json={"account_number": "R1", "amount": "1000000", "transaction_id": "txn-big"}
    )
    assert (short.status_code, short.json()["code"]) == (422, "INSUFFICIENT_FUNDS")
    await ledger.assert_consistent()


async def test_journal_refuses_unbalanced_entries_and_edits(ledger: Ledger) -> None:
    await ledger.open("J1", 1_000)
    async with ledger.pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO journal_entries (entry_id, kind) VALUES ('bad', 'ADJUSTMENT')"
                )
                await conn.execute(
                    "INSERT INTO postings (entry_id, account_number, amount_minor, currency)"
                    " VALUES ('bad', 'J1', 500, 'USD'), ('bad', 'SYS-FUNDING-USD', -400, 'USD')"
                )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE postings SET amount_minor = amount_minor * 2")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE accounts SET held_minor = 2000 WHERE account_number = 'J1'")
    assert (await ledger.account("J1"))["balance_minor"] == 1_000
    await ledger.assert_consistent()


async def test_customers_are_listed_a_page_at_a_time(ledger: Ledger) -> None:
    for number in ("LST001", "LST002", "LST003"):
        await ledger.open(number, 100, customer_id=f"cust_list_{number}")
    seen: list[str] = []
    after = ""
    for _ in range(100):  # bounded: a page cursor that never ends would be a bug
        page = await ledger.client.get("/customers", params={"after": after, "limit": 2}, headers=ops())
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["customers"]) <= 2
        seen += [c["customer_id"] for c in body["customers"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert {"cust_list_LST001", "cust_list_LST002", "cust_list_LST003"} <= set(seen)
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert (await ledger.client.get("/customers", params={"limit": 501}, headers=ops())).status_code == 422
