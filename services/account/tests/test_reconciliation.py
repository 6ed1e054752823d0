"""Reconciliation against the REAL partner bank app (services/partner_bank) behind an
httpx.ASGITransport: both sides start from their dev seeds (the same accounts and balances)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from account.main import AccountSettings, create_app
from account.reconciliation import run_reconciliation
from partner_bank.main import MIGRATIONS as BANK_MIGRATIONS
from partner_bank.main import PartnerBankSettings
from partner_bank.main import create_app as create_bank_app
from paykit.testing import DatabaseFactory, running_app
from prometheus_client import REGISTRY

from .conftest import SEED_DIR, Ledger, ops


class _CountingTransport(httpx.AsyncBaseTransport):
    """The bank's transport, noting the path of every call account makes to it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@dataclass
class World:
    ledger: Ledger
    bank: httpx.AsyncClient
    settings: AccountSettings
    app_state: object
    bank_transport: _CountingTransport

    async def reconcile(self, now: datetime | None = None) -> list[tuple[str, str | None]] | None:
        breaks = await run_reconciliation(
            self.ledger.pool,
            self.app_state.bank,  # type: ignore[attr-defined]
            self.settings.reconciliation_limits(),
            now,
            confirm=getattr(self.app_state, "confirm", None),
        )
        return None if breaks is None else sorted((b.kind, b.reference or b.account_number) for b in breaks)

    async def pay(
        self, ref: str, payer: str, payee: str, ours_minor: int | None, bank_minor: int | None
    ) -> None:
        """A payment as confirm makes it: hold, bank transfer, capture (either side may be skipped)."""
        if ours_minor is not None:
            assert (await self.ledger.hold(ref, payer, payee, ours_minor)).status_code == 201
        if bank_minor is not None:
            body = {"reference": ref, "from_account": payer, "to_account": payee, "amount_minor": bank_minor}
            answer = await self.bank.post("/process-transfer", json=body)
            assert answer.json()["status"] == "COMPLETED", answer.text
        if ours_minor is not None:
            assert (await self.ledger.client.post(f"/holds/{ref}/capture")).status_code == 200


@pytest.fixture
def bank_db(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("partner_bank", BANK_MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
async def world(db_url: str, bank_db: str) -> AsyncIterator[World]:
    bank_settings = PartnerBankSettings(
        app_env="test", postgres_url=bank_db, dev_seed_file=str(SEED_DIR / "partner_bank.sql")
    )
    bank_app = create_bank_app(bank_settings)
    settings = AccountSettings(
        app_env="test",
        postgres_url=db_url,
        dev_seed_file=str(SEED_DIR / "account.sql"),
        hold_sweep_interval_s=0,
        reconciliation_interval_s=0,
        reconciliation_page_size=2,  # three transfers span two pages
        reconciliation_grace_s=0,
        reconciliation_compare_payments=False,
    )
    async with running_app(bank_app) as bank_client:
        transport = _CountingTransport(httpx.ASGITransport(app=bank_app))
        app = create_app(settings, bank_transport=transport)
        async with running_app(app, caller="confirm") as client:
            ledger = Ledger(client, app.state.resources.require_pool())
            yield World(ledger, bank_client, settings, app.state, transport)


async def test_the_report_runs_on_demand_when_none_exists(world: World) -> None:
    first = await world.ledger.client.get("/reconciliation/report", headers=ops())
    assert first.status_code == 200 and first.json()["open_breaks"] == 0
    await world.bank.post(  # the bank moves money our ledger never saw
        "/process-transfer",
        json={"reference": "ghost-1", "from_account": "ACC001", "to_account": "ACC002", "amount_minor": 700},
    )
    run = await world.ledger.client.post("/reconciliation/run", headers=ops())
    assert run.status_code == 200 and run.json()["run_id"] != first.json()["run_id"]
    kinds = {b["kind"] for b in run.json()["breaks"]}
    assert "MISSING_IN_LEDGER" in kinds, kinds
    assert (await world.ledger.client.get("/reconciliation/report", headers=ops())).json()[
        "run_id"
    ] == run.json()["run_id"]


async def test_clean_books_report_zero_breaks(world: World) -> None:
    assert await world.reconcile() == []
    await world.pay("pay-ok-1", "ACC001", "ACC002", 10_000, 10_000)
    await world.pay("pay-ok-2", "ACC002", "ACC003", 2_550, 2_550)
    await world.pay("pay-ok-3", "ACC003", "ACC001", 1, 1)
    assert await world.reconcile() == []
    report = (await world.ledger.client.get("/reconciliation/report", headers=ops())).json()
    assert (report["open_breaks"], report["breaks"]) == (0, [])
    assert REGISTRY.get_sample_value("reconciliation_open_breaks") == 0


async def test_each_injected_break_is_named(world: World) -> None:
    await world.pay("pay-nobank", "ACC001", "ACC003", 5_000, None)
    await world.pay("pay-noledger", "ACC002", "ACC003", None, 3_000)
    await world.pay("pay-amount", "ACC002", "ACC001", 2_000, 2_500)
    assert (
        await world.ledger.hold("pay-stale", "ACC003", "ACC001", 1_000, expires_in_s=60)
    ).status_code == 201
    later = datetime.now(UTC) + timedelta(seconds=61)
    found = await world.reconcile(now=later)
    assert found == [
        ("AMOUNT_MISMATCH", "pay-amount"),
        ("BALANCE_MISMATCH", "ACC001"),
        ("BALANCE_MISMATCH", "ACC002"),
        ("BALANCE_MISMATCH", "ACC003"),
        ("MISSING_AT_BANK", "pay-nobank"),
        ("MISSING_IN_LEDGER", "pay-noledger"),
        ("STALE_HOLD", "pay-stale"),
    ]
    report = (await world.ledger.client.get("/reconciliation/report", headers=ops())).json()
    assert report["open_breaks"] == 7
    by_kind = {b["kind"]: b for b in report["breaks"]}
    assert by_kind["AMOUNT_MISMATCH"]["ours"]["captured_minor"] == 2_000
    assert by_kind["AMOUNT_MISMATCH"]["bank"]["amount_minor"] == 2_500
    acc001 = next(
        b for b in report["breaks"] if b["account_number"] == "ACC001" and b["kind"] == "BALANCE_MISMATCH"
    )
    assert (acc001["ours"]["balance_minor"], acc001["bank"]["balance_minor"]) == (1_497_000, 1_502_500)
    assert REGISTRY.get_sample_value("reconciliation_open_breaks") == 7
    metrics = (await world.ledger.client.get("/metrics")).text
    assert "reconciliation_open_breaks 7.0" in metrics


async def test_account_unknown_to_bank_and_bank_down(world: World, db_url: str) -> None:
    await world.ledger.open("ACC777", 0)
    assert await world.reconcile() == [("ACCOUNT_MISSING_AT_BANK", "ACC777")]

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"code": "SERVICE_UNAVAILABLE"})

    settings = world.settings.model_copy(update={"partner_bank_retries_max": 0})
    app = create_app(settings, bank_transport=httpx.MockTransport(down))
    async with running_app(app, caller="confirm") as client:
        pool = app.state.resources.require_pool()
        assert await run_reconciliation(pool, app.state.bank, settings.reconciliation_limits()) is None
        # A failed run leaves the last completed report in place.
        report = (await client.get("/reconciliation/report", headers=ops())).json()
        assert [b["kind"] for b in report["breaks"]] == ["ACCOUNT_MISSING_AT_BANK"]


async def test_reconciler_runs_in_the_background(world: World) -> None:
    settings = world.settings.model_copy(update={"reconciliation_interval_s": 0.05})
    app = create_app(settings, bank_transport=world.bank_transport)
    async with running_app(app, caller="confirm") as client:
        for _ in range(100):
            report = await client.get("/reconciliation/report", headers=ops())
            if report.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert report.status_code == 200, report.text
        assert report.json()["open_breaks"] == 0


# --- Issue 9 item 4: cursor, cutoff, grace window, open breaks, payment states ----------


async def test_a_payment_in_flight_is_no_break(world: World) -> None:
    """The bank executed, our capture has not happened yet: within the grace window both
    sides are compared as if neither had happened."""
    settings = world.settings.model_copy(update={"reconciliation_grace_s": 60.0})
    assert (await world.ledger.hold("fly-1", "ACC001", "ACC002", 4_000)).status_code == 201
    await world.pay("fly-1", "ACC001", "ACC002", None, 4_000)  # the bank side only, so far
    breaks = await run_reconciliation(
        world.ledger.pool, world.app_state.bank, settings.reconciliation_limits()
    )  # type: ignore[attr-defined]
    assert breaks == [], breaks
    assert (await world.ledger.client.post("/holds/fly-1/capture")).status_code == 200
    breaks = await run_reconciliation(
        world.ledger.pool, world.app_state.bank, settings.reconciliation_limits()
    )  # type: ignore[attr-defined]
    assert breaks == [], breaks


async def test_history_longer_than_a_run_is_read_on_from_the_cursor(world: World) -> None:
    """Old code read the whole history every run and failed past pages_max pages."""
    settings = world.settings.model_copy(
        update={"reconciliation_page_size": 2, "reconciliation_pages_max": 1}
    )
    for i in range(5):
        await world.pay(f"hist-{i}", "ACC001", "ACC002", 100 + i, 100 + i)
    later = datetime.now(UTC) + timedelta(seconds=5)
    limits = settings.reconciliation_limits()
    for _ in range(3):
        found = await run_reconciliation(world.ledger.pool, world.app_state.bank, limits, later)  # type: ignore[attr-defined]
        assert found == [], found
    last_id = (await world.bank.get("/transfers", params={"after_id": 0, "limit": 100})).json()["transfers"][
        -1
    ]["id"]
    assert await world.ledger.pool.fetchval("SELECT last_transfer_id FROM reconciliation_cursor") == last_id
    runs = await world.ledger.pool.fetch("SELECT transfers_read FROM reconciliation_runs ORDER BY run_id")
    assert [r["transfers_read"] for r in runs] == [2, 2, 1], "each run resumes where the last stopped"


async def test_a_break_stays_open_after_the_cursor_passed_until_it_is_mended(world: World) -> None:
    await world.pay("lost-1", "ACC001", "ACC002", None, 2_000)  # bank paid, ledger never captured
    assert ("MISSING_IN_LEDGER", "lost-1") in (
        await world.reconcile(now=datetime.now(UTC) + timedelta(seconds=1)) or []
    )
    again = await world.reconcile(now=datetime.now(UTC) + timedelta(seconds=2))
    assert again is not None and ("MISSING_IN_LEDGER", "lost-1") in again, "forgotten once the cursor moved"
    assert (await world.ledger.hold("lost-1", "ACC001", "ACC002", 2_000)).status_code == 201
    assert (await world.ledger.client.post("/holds/lost-1/capture")).status_code == 200
    assert await world.reconcile(now=datetime.now(UTC) + timedelta(seconds=3)) == []
    assert REGISTRY.get_sample_value("reconciliation_open_breaks") == 0


def _confirm_answering(states: dict[str, str], completed: list[str], asked: list[str]) -> httpx.MockTransport:
    """Confirm's two reconciliation routes answering from `states` and `completed`; every
    path asked is noted in `asked`."""

    def confirm(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/reconciliation/completed":
            return httpx.Response(200, json={"payment_ids": completed})
        if request.url.path == "/reconciliation/states":
            wanted = json.loads(request.content)["payment_ids"]
            return httpx.Response(200, json={"states": {p: states[p] for p in wanted if p in states}})
        return httpx.Response(404, json={"code": "NOT_FOUND"})

    return httpx.MockTransport(confirm)


@asynccontextmanager
async def _comparing_payments(world: World, confirm: httpx.MockTransport) -> AsyncIterator[World]:
    """The world with an account service that also compares confirm's payment states."""
    settings = world.settings.model_copy(update={"reconciliation_compare_payments": True})
    app = create_app(settings, bank_transport=world.bank_transport, confirm_transport=confirm)
    async with running_app(app) as client:
        ledger = Ledger(client, app.state.resources.require_pool())
        yield World(ledger, world.bank, settings, app.state, world.bank_transport)


async def test_payment_states_are_compared_with_the_bank(world: World) -> None:
    states = {"pay-good": "COMPLETED", "pay-mis": "FAILED"}
    async with _comparing_payments(world, _confirm_answering(states, ["pay-good", "pay-ghost"], [])) as other:
        await other.pay("pay-good", "ACC001", "ACC002", 1_000, 1_000)
        await other.pay("pay-mis", "ACC002", "ACC001", 500, 500)
        found = await other.reconcile(now=datetime.now(UTC) + timedelta(seconds=1))
    assert found == [("PAYMENT_STATE_MISMATCH", "pay-mis"), ("PAYMENT_WITHOUT_TRANSFER", "pay-ghost")]


async def test_a_capture_the_bank_rejected_and_a_broken_ledger_are_breaks(world: World) -> None:
    """The two kinds the injected-break test does not make: STATUS_MISMATCH, LEDGER_INTEGRITY."""
    assert (await world.bank.post("/admin/faults", json={"mode": "decline", "count": 1})).status_code in (
        200,
        201,
    )
    answer = await world.bank.post(
        "/process-transfer",
        json={"reference": "rej-1", "from_account": "ACC001", "to_account": "ACC002", "amount_minor": 900},
    )
    assert answer.json()["status"] == "REJECTED", answer.text
    assert (await world.ledger.hold("rej-1", "ACC001", "ACC002", 900)).status_code == 201
    assert (await world.ledger.client.post("/holds/rej-1/capture")).status_code == 200
    # Someone edits a cached balance behind the journal's back.
    await world.ledger.pool.execute(
        "UPDATE accounts SET balance_minor = balance_minor + 1 WHERE account_number = 'ACC003'"
    )
    found = await world.reconcile(now=datetime.now(UTC) + timedelta(seconds=1))
    assert found is not None
    assert ("STATUS_MISMATCH", "rej-1") in found
    assert any(kind == "LEDGER_INTEGRITY" for kind, _ in found), found


async def test_concurrent_runs_never_deadlock_on_open_breaks(world: World) -> None:
    """The background loop and POST /reconciliation/run may overlap; both keep open breaks."""
    for i in range(6):
        await world.pay(f"open-{i}", "ACC001", "ACC002", None, 100 + i)  # bank only: open breaks
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert await world.reconcile(now=later)
    results = await asyncio.gather(
        *(world.reconcile(now=later + timedelta(seconds=i)) for i in range(12)), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed == [], failed
    assert all(r and len([k for k, _ in r if k == "MISSING_IN_LEDGER"]) == 6 for r in results)


async def test_a_run_reads_the_banks_balances_in_pages_not_one_call_per_account(world: World) -> None:
    """A run every five minutes must not call the bank once per customer account: with a
    thousand accounts that was a thousand calls in a burst, which took a fleet at capacity
    below its rate for seconds (make bench-fleet); with a million it would never finish."""
    await world.pay("pay-pages-1", "ACC001", "ACC002", 10_000, 10_000)
    accounts = await world.ledger.pool.fetchval(
        "SELECT count(*) FROM accounts WHERE account_type <> 'SYSTEM'"
    )
    world.bank_transport.paths.clear()

    assert await world.reconcile() == []

    paths = world.bank_transport.paths
    assert [p for p in paths if p.startswith("/accounts/")] == [], paths
    pages = [p for p in paths if p == "/balances"]
    assert 1 <= len(pages) <= accounts // world.settings.reconciliation_page_size + 1, paths
    # And balances the bank disagrees on are still found, read from pages.
    await world.pay("pay-pages-bank-only", "ACC002", "ACC003", None, 3_000)
    found = await world.reconcile(now=datetime.now(UTC) + timedelta(seconds=1))
    assert found is not None
    assert {account for kind, account in found if kind == "BALANCE_MISMATCH"} == {"ACC002", "ACC003"}


async def test_more_captures_since_the_last_run_than_one_run_reads_are_no_break(world: World) -> None:
    """A run reads at most `ledger_read_max` of our captures since the last one (10,000 by
    default: under three minutes at 60 payments/s, a run every five). Read to that bound,
    the newest captures, the ones still in flight, were left out of our side while the bank
    took its in-flight transfers out of its own: make bench-fleet (13,154 payments) reported
    819 false BALANCE_MISMATCH breaks. Past the bound a run compares no balances, moves the
    ledger's cursor only as far as it read, and the next run goes on from there."""
    settings = world.settings.model_copy(
        update={"reconciliation_page_size": 2, "reconciliation_pages_max": 20, "reconciliation_grace_s": 60.0}
    )
    limits = replace(settings.reconciliation_limits(), ledger_read_max=4)  # the bank is read whole
    for i in range(5):  # past the cutoff below: settled
        await world.pay(f"many-{i}", "ACC001", "ACC002", 100 + i, 100 + i)
    middle = await world.ledger.pool.fetchval("SELECT now()")
    await asyncio.sleep(0.05)
    for i in range(2):  # after it: in flight on both sides
        await world.pay(f"late-{i}", "ACC002", "ACC003", 10 + i, 10 + i)
    as_of_middle = middle + timedelta(seconds=60)  # cutoff = now - grace = middle

    bank = world.app_state.bank  # type: ignore[attr-defined]
    first = await run_reconciliation(world.ledger.pool, bank, limits, as_of_middle)
    assert first == [], first
    second = await run_reconciliation(world.ledger.pool, bank, limits, as_of_middle)
    assert second == [], second
    reached = await world.ledger.pool.fetchval("SELECT ledger_cutoff FROM reconciliation_cursor")
    assert reached == middle, "the ledger's cursor reaches the cutoff once every capture before it was read"


async def test_payment_states_are_asked_of_confirm_in_batches_not_one_call_per_transfer(world: World) -> None:
    """One call per bank transfer was 18,000 calls a run at 60 payments/s: a run then outlived
    the bench's two-minute wait ("reconciliation could not run", 19,247 payments)."""
    states = {f"pay-batch-{i}": "COMPLETED" for i in range(5)} | {"pay-batch-mis": "FAILED"}
    asked: list[str] = []
    async with _comparing_payments(world, _confirm_answering(states, [], asked)) as other:
        for payment_id in states:
            await other.pay(payment_id, "ACC001", "ACC002", 100, 100)
        found = await other.reconcile(now=datetime.now(UTC) + timedelta(seconds=1))
    assert found == [("PAYMENT_STATE_MISMATCH", "pay-batch-mis")]
    assert [p for p in asked if p.startswith("/payments/")] == [], asked
    assert asked.count("/reconciliation/states") == 1, asked
