"""Two-phase holds over HTTP: hold -> capture | release | expiry, each idempotent on hold_id."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from account import usecases
from account.main import AccountSettings, create_app
from paykit import ProblemError
from paykit.db import create_pool
from paykit.testing import running_app

from .conftest import Ledger


async def test_capture_moves_money_once_and_replays_the_first_outcome(ledger: Ledger) -> None:
    await ledger.open("A1", 100_000)
    await ledger.open("B1", 0)
    placed = await ledger.hold("pay-1", "A1", "B1", 30_000)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "PENDING"
    payer = await ledger.account("A1")
    assert (payer["balance_minor"], payer["held_minor"], payer["available_minor"]) == (
        100_000,
        30_000,
        70_000,
    )
    assert payer["available_balance"] == "700.00"

    first = await ledger.client.post("/holds/pay-1/capture", json={})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "POSTED"
    assert (first.json()["captured_minor"], first.json()["released_minor"]) == (30_000, 0)
    again = await ledger.client.post("/holds/pay-1/capture", json={"amount_minor": 10_000})
    assert again.status_code == 200
    assert again.json()["entry_id"] == first.json()["entry_id"]
    assert again.json()["captured_minor"] == 30_000

    assert (await ledger.account("A1"))["balance_minor"] == 70_000
    assert (await ledger.account("A1"))["held_minor"] == 0
    assert (await ledger.account("B1"))["balance_minor"] == 30_000
    await ledger.assert_consistent()


async def test_partial_capture_releases_the_rest(ledger: Ledger) -> None:
    await ledger.open("A2", 50_000)
    await ledger.open("B2", 0)
    assert (await ledger.hold("pay-2", "A2", "B2", 20_000)).status_code == 201
    captured = await ledger.client.post("/holds/pay-2/capture", json={"amount_minor": 5_000})
    assert captured.json()["captured_minor"] == 5_000
    assert captured.json()["released_minor"] == 15_000
    payer = await ledger.account("A2")
    assert (payer["balance_minor"], payer["available_minor"]) == (45_000, 45_000)
    too_much = await ledger.hold("pay-3", "A2", "B2", 1_000)
    over = await ledger.client.post("/holds/pay-3/capture", json={"amount_minor": 1_001})
    assert too_much.status_code == 201
    assert over.status_code == 422
    assert over.json()["code"] == "CAPTURE_EXCEEDS_HOLD"
    assert (await ledger.client.get("/holds/pay-3")).json()["status"] == "PENDING"
    await ledger.assert_consistent()


async def test_release_is_idempotent_and_final(ledger: Ledger) -> None:
    await ledger.open("A3", 10_000)
    await ledger.open("B3", 0)
    await ledger.hold("pay-r", "A3", "B3", 4_000)
    released = await ledger.client.post("/holds/pay-r/release")
    again = await ledger.client.post("/holds/pay-r/release")
    assert released.status_code == again.status_code == 200
    assert released.json()["status"] == again.json()["status"] == "VOIDED"
    assert released.json()["resolved_at"] == again.json()["resolved_at"]
    assert await ledger.available("A3") == 10_000
    capture = await ledger.client.post("/holds/pay-r/capture")
    assert capture.status_code == 409
    assert capture.json()["code"] == "HOLD_RELEASED"

    await ledger.hold("pay-c", "A3", "B3", 1_000)
    await ledger.client.post("/holds/pay-c/capture")
    late_release = await ledger.client.post("/holds/pay-c/release")
    assert late_release.status_code == 409
    assert await ledger.available("A3") == 9_000
    await ledger.assert_consistent()


async def test_hold_replay_and_conflict(ledger: Ledger) -> None:
    await ledger.open("A4", 10_000)
    await ledger.open("B4", 0)
    first = await ledger.hold("pay-4", "A4", "B4", 2_500)
    replay = await ledger.hold("pay-4", "A4", "B4", 2_500)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    assert (await ledger.account("A4"))["held_minor"] == 2_500
    conflict = await ledger.hold("pay-4", "A4", "B4", 2_600)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "HOLD_ID_CONFLICT"
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert (await ledger.account("A4"))["held_minor"] == 2_500


async def test_insufficient_funds_stays_failed_on_retry(ledger: Ledger) -> None:
    await ledger.open("A5", 1_000)
    await ledger.open("B5", 0)
    failed = await ledger.hold("pay-5", "A5", "B5", 1_001)
    assert failed.status_code == 422
    assert failed.json()["code"] == "INSUFFICIENT_FUNDS"
    # Even with money now on the account, the same id keeps its first outcome.
    await ledger.open("F5", 5_000)
    await ledger.hold("top-up", "F5", "A5", 2_000)
    await ledger.client.post("/holds/top-up/capture")
    assert await ledger.available("A5") == 3_000
    retry = await ledger.hold("pay-5", "A5", "B5", 1_001)
    assert retry.status_code == 422
    assert retry.json()["code"] == "INSUFFICIENT_FUNDS"
    hold = (await ledger.client.get("/holds/pay-5")).json()
    assert (hold["status"], hold["failure_code"]) == ("FAILED", "INSUFFICIENT_FUNDS")
    assert (await ledger.account("A5"))["held_minor"] == 0
    assert (await ledger.client.post("/holds/pay-5/capture")).status_code == 409


async def test_bad_holds_change_nothing(ledger: Ledger) -> None:
    await ledger.open("A6", 10_000, customer_id="cust_a6")
    await ledger.open("B6", 0)
    cases = [
        (("h1", "NOPE", "B6", 100), {}, 404, "ACCOUNT_NOT_FOUND"),
        (("h2", "A6", "NOPE", 100), {}, 404, "ACCOUNT_NOT_FOUND"),
        (("h3", "A6", "B6", 100), {"customer_id": "cust_other"}, 403, "ACCOUNT_OWNERSHIP_MISMATCH"),
        (("h4", "A6", "B6", 100), {"currency": "EUR"}, 422, "CURRENCY_MISMATCH"),
        (("h5", "A6", "A6", 100), {}, 422, "SAME_ACCOUNT"),
        (("h6", "A6", "B6", 0), {}, 422, "VALIDATION_ERROR"),
        (("h7", "A6", "B6", 100), {"expires_in_s": 0}, 422, "VALIDATION_ERROR"),
        (("h8", "A6", "SYS-FUNDING-USD", 100), {}, 201, None),
    ]
    for args, extra, status, code in cases:
        response = await ledger.hold(*args, **extra)
        assert response.status_code == status, (args, response.text)
        if code:
            assert response.json()["code"] == code
            assert (await ledger.client.get(f"/holds/{args[0]}")).status_code == 404
    assert (await ledger.hold("h9", "SYS-FUNDING-USD", "A6", 100)).status_code == 404
    assert (await ledger.account("A6"))["held_minor"] == 100
    await ledger.assert_consistent()


async def test_expiry_by_sweeper_releases_and_resolves_once(ledger: Ledger) -> None:
    await ledger.open("A7", 10_000)
    await ledger.open("B7", 0)
    await ledger.hold("pay-7", "A7", "B7", 3_000, expires_in_s=60)
    await ledger.hold("pay-7b", "A7", "B7", 3_000, expires_in_s=3_600)
    assert await usecases.expire_holds(ledger.pool) == 0
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert await usecases.expire_holds(ledger.pool, now=later) == 1
    assert await usecases.expire_holds(ledger.pool, now=later) == 0
    assert (await ledger.client.get("/holds/pay-7")).json()["status"] == "EXPIRED"
    assert await ledger.available("A7") == 7_000
    capture = await ledger.client.post("/holds/pay-7/capture")
    assert capture.status_code == 409
    release = await ledger.client.post("/holds/pay-7/release")
    assert (release.status_code, release.json()["status"]) == (200, "EXPIRED")
    await ledger.assert_consistent()


async def test_capture_after_expiry_expires_instead(ledger: Ledger) -> None:
    await ledger.open("A8", 10_000)
    await ledger.open("B8", 0)
    await ledger.hold("pay-8", "A8", "B8", 3_000, expires_in_s=60)
    later = datetime.now(UTC) + timedelta(seconds=61)
    try:
        await usecases.capture_hold(ledger.pool, "pay-8", None, now=later)
    except Exception as exc:
        assert getattr(exc, "code", None) == "HOLD_EXPIRED"
    else:
        raise AssertionError("an expired hold was captured")
    assert (await ledger.client.get("/holds/pay-8")).json()["status"] == "EXPIRED"
    assert (await ledger.account("B8"))["balance_minor"] == 0
    assert await ledger.available("A8") == 10_000


async def test_background_sweeper_expires_holds(db_url: str) -> None:
    settings = AccountSettings(
        app_env="test",
        postgres_url=db_url,
        hold_sweep_interval_s=0.05,
        reconciliation_interval_s=0,
        reconciliation_compare_payments=False,
    )
    app = create_app(settings)
    async with running_app(app, caller="confirm") as client:
        ledger = Ledger(client, app.state.resources.require_pool())
        await ledger.open("A9", 10_000)
        await ledger.open("B9", 0)
        assert (await ledger.hold("pay-9", "A9", "B9", 1_000, expires_in_s=1)).status_code == 201
        for _ in range(60):
            await asyncio.sleep(0.1)
            if (await client.get("/holds/pay-9")).json()["status"] == "EXPIRED":
                break
        assert (await client.get("/holds/pay-9")).json()["status"] == "EXPIRED"
        assert await ledger.available("A9") == 10_000
        metrics = (await client.get("/metrics")).text
        assert 'ledger_holds_total{outcome="expired"}' in metrics


async def test_fifty_concurrent_holds_on_acc002(ledger: Ledger) -> None:
    await ledger.open("ACC002", 850_000, customer_id="cust_002")
    await ledger.open("PAYEE", 0)
    lowest = [850_000]

    async def watch() -> None:
        while True:
            lowest[0] = min(lowest[0], await ledger.available("ACC002"))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    responses = await asyncio.gather(*(ledger.hold(f"c-{i}", "ACC002", "PAYEE", 100_000) for i in range(50)))
    watcher.cancel()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 8
    assert statuses.count(422) == 42
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"INSUFFICIENT_FUNDS"}
    account = await ledger.account("ACC002")
    assert (account["held_minor"], account["available_minor"]) == (800_000, 50_000)
    assert lowest[0] >= 0
    await ledger.assert_consistent()


async def test_the_same_new_hold_sent_at_once_holds_the_money_once(ledger: Ledger) -> None:
    await ledger.open("A10", 10_000)
    await ledger.open("B10", 0)
    responses = await asyncio.gather(*(ledger.hold("pay-10", "A10", "B10", 3_000) for _ in range(10)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1  # every retry is the first outcome
    account = await ledger.account("A10")
    assert (account["held_minor"], account["available_minor"]) == (3_000, 7_000)
    await ledger.assert_consistent()


async def test_accounts_that_cannot_move_money_hold_nothing(ledger: Ledger) -> None:
    for number in ("A11", "FROZEN11", "CLOSED11", "PAYEE11"):
        await ledger.open(number, 10_000 if number != "PAYEE11" else 0)
    await ledger.pool.execute("UPDATE accounts SET status = 'FROZEN' WHERE account_number = 'FROZEN11'")
    await ledger.pool.execute("UPDATE accounts SET status = 'CLOSED' WHERE account_number = 'CLOSED11'")
    for hold_id, payer, payee in (("f1", "FROZEN11", "PAYEE11"), ("f2", "A11", "CLOSED11")):
        refused = await ledger.hold(hold_id, payer, payee, 100)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "ACCOUNT_NOT_ACTIVE"
        assert (await ledger.client.get(f"/holds/{hold_id}")).status_code == 404
    # A frozen account may still be paid into; only a closed one may not.
    assert (await ledger.hold("f3", "A11", "FROZEN11", 100)).status_code == 201
    assert [(await ledger.account(n))["held_minor"] for n in ("A11", "FROZEN11")] == [100, 0]
    await ledger.assert_consistent()


async def test_a_new_hold_is_placed_from_the_databases_clock(ledger: Ledger) -> None:
    await ledger.open("A12", 10_000)
    await ledger.open("B12", 0)
    before = await ledger.pool.fetchval("SELECT now()")
    placed = await ledger.hold("pay-12", "A12", "B12", 100, expires_in_s=600)
    after = await ledger.pool.fetchval("SELECT now()")
    expires_at = datetime.fromisoformat(placed.json()["expires_at"])
    assert before + timedelta(seconds=600) <= expires_at <= after + timedelta(seconds=600)


async def test_the_one_statement_placement_declines_every_case_it_does_not_own(ledger: Ledger) -> None:
    """Anything but a new id on good accounts with the money there is left, with nothing
    written, to the full transaction that answers it (tested above over HTTP)."""
    from account import store
    from account.domain import HoldRequest

    await ledger.open("A13", 1_000, customer_id="cust_a13")
    await ledger.open("B13", 0)
    await ledger.open("FROZEN13", 1_000)
    await ledger.open("CLOSED13", 0)
    await ledger.pool.execute("UPDATE accounts SET status = 'FROZEN' WHERE account_number = 'FROZEN13'")
    await ledger.pool.execute("UPDATE accounts SET status = 'CLOSED' WHERE account_number = 'CLOSED13'")
    assert (await ledger.hold("known13", "A13", "B13", 100)).status_code == 201

    def request(**change: Any) -> HoldRequest:
        base = {
            "hold_id": "new13",
            "account_number": "A13",
            "to_account": "B13",
            "amount_minor": 100,
            "currency": "USD",
            "customer_id": "cust_a13",
            "expires_in_s": 60,
        }
        return HoldRequest(**(base | change))

    declined = [
        request(hold_id="known13"),
        request(account_number="FROZEN13", customer_id=None),
        request(to_account="CLOSED13"),
        request(to_account="NOPE"),
        request(account_number="NOPE"),
        request(account_number="SYS-FUNDING-USD", customer_id=None),
        request(currency="EUR"),
        request(customer_id="cust_other"),
        request(to_account="A13"),
        request(amount_minor=901),
    ]
    async with ledger.pool.acquire() as conn:
        for case in declined:
            assert await store.place_new_hold(conn, case, None) is None, case
        assert (await ledger.account("A13"))["held_minor"] == 100
        assert await conn.fetchval("SELECT count(*) FROM holds") == 1
        placed = await store.place_new_hold(conn, request(amount_minor=900), None)
    assert placed is not None and (placed.status, placed.amount_minor) == ("PENDING", 900)
    assert await ledger.available("A13") == 0
    await ledger.assert_consistent()


async def test_a_capture_in_time_is_one_statement_and_any_other_one_transaction(
    ledger: Ledger, settings: AccountSettings
) -> None:
    """A pending hold in its time: lock it and its accounts, release, post, all in one
    statement (the payer's row stays locked for that statement only); an expired one (here
    by the test's clock): BEGIN, the lock and release, the hold resolved EXPIRED, COMMIT."""
    await ledger.open("RT1", 100_000)
    await ledger.open("RT2", 0)
    assert (await ledger.hold("rt-1", "RT1", "RT2", 30_000)).status_code == 201
    assert (await ledger.hold("rt-2", "RT1", "RT2", 10_000)).status_code == 201
    assert (await ledger.hold("rt-warm", "RT1", "RT2", 1_000)).status_code == 201
    statements: list[str] = []
    pool = await create_pool(settings.model_copy(update={"db_pool_min": 1, "db_pool_max": 1}))
    try:
        await usecases.capture_hold(pool, "rt-warm", None)  # asyncpg reads the types it meets once
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda logged: statements.append(logged.query.split()[0]))
        captured = await usecases.capture_hold(pool, "rt-1", 20_000)
        with pytest.raises(ProblemError) as expired:
            await usecases.capture_hold(pool, "rt-2", None, now=datetime.now(UTC) + timedelta(days=1))
    finally:
        await pool.close()
    assert (captured.hold.status, captured.hold.captured_minor) == ("POSTED", 20_000)
    assert expired.value.code == "HOLD_EXPIRED"
    assert statements == ["SELECT", "BEGIN;", "WITH", "UPDATE", "COMMIT;"]
    payer = await ledger.account("RT1")
    assert (payer["balance_minor"], payer["held_minor"]) == (79_000, 0)
    await ledger.assert_consistent()
