"""Reconciliation with the partner bank, the bank of record (use cases).

One run: read a consistent snapshot of our ledger (one read-only transaction), ask the
bank for its balances and transfers (outside any transaction), compare (`domain.find_breaks`),
store the run and its breaks (a second transaction), and publish the count as a gauge.
Matching key: a capture's hold id is the bank transfer's `reference`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from paykit import ProblemError
from paykit.http import ServiceCallError
from prometheus_client import Gauge

from . import store
from .clients import PartnerBankClient
from .domain import BankSnapshot, BankTransfer, Break, LedgerSnapshot, find_breaks

log = logging.getLogger("account.reconciliation")
OPEN_BREAKS = Gauge("reconciliation_open_breaks", "Breaks found by the latest reconciliation run")


@dataclass(frozen=True, slots=True)
class ReconciliationLimits:
    page_size: int
    pages_max: int
    stale_hold_after_s: int


class ReconciliationIncomplete(Exception):
    """The bank had more transfers than `pages_max` pages: comparing a part would invent breaks."""


async def run_reconciliation(
    pool: asyncpg.Pool,
    bank: PartnerBankClient,
    limits: ReconciliationLimits,
    now: datetime | None = None,
) -> list[Break] | None:
    """Returns the breaks found, or None when the bank could not be read (the run is stored
    as FAILED and the last completed report stays the current one)."""
    started = now or datetime.now(UTC)
    ours = await _ledger_snapshot(pool)
    try:
        theirs = await _bank_snapshot(bank, list(ours.balances), limits)
    except (ServiceCallError, ReconciliationIncomplete) as exc:
        log.warning("reconciliation could not read the bank: %s", exc)
        async with pool.acquire() as conn, conn.transaction():
            await store.save_run(conn, started, [], error=type(exc).__name__)
        return None
    breaks = find_breaks(ours, theirs, started, limits.stale_hold_after_s)
    async with pool.acquire() as conn, conn.transaction():
        await store.save_run(conn, started, breaks)
    OPEN_BREAKS.set(len(breaks))
    if breaks:
        log.warning("reconciliation found %d break(s)", len(breaks))
    return breaks


async def _ledger_snapshot(pool: asyncpg.Pool) -> LedgerSnapshot:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        balances = {
            r["account_number"]: (r["balance_minor"], r["currency"])
            for r in await store.customer_balances(conn)
        }
        captures = {h.hold_id: h for h in await store.posted_holds(conn)}
        pending = await store.pending_holds(conn)
        problems = await store.integrity_problems(conn)
    return LedgerSnapshot(balances=balances, captures=captures, pending=pending, integrity_problems=problems)


async def _bank_snapshot(
    bank: PartnerBankClient, account_numbers: list[str], limits: ReconciliationLimits
) -> BankSnapshot:
    balances = {number: await bank.balance(number) for number in account_numbers}
    transfers: dict[str, BankTransfer] = {}
    after_id: str | None = None
    for _ in range(limits.pages_max):
        page, after_id = await bank.transfers_page(after_id, limits.page_size)
        transfers.update((t.reference, t) for t in page)
        if after_id is None or not page:
            return BankSnapshot(balances=balances, transfers=transfers)
    raise ReconciliationIncomplete(f"more than {limits.pages_max} pages of transfers")


async def has_completed_run(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return await store.latest_run(conn) is not None


async def latest_report(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        found = await store.latest_run(conn)
    if found is None:
        raise ProblemError(404, "NO_RECONCILIATION_REPORT", "Reconciliation has not completed a run yet")
    run, breaks = found
    return {
        "run_id": run["run_id"],
        "generated_at": run["finished_at"],
        "started_at": run["started_at"],
        "open_breaks": run["open_breaks"],
        "breaks": [
            {
                "kind": b["kind"],
                "account_number": b["account_number"],
                "reference": b["reference"],
                "ours": None if b["ours"] is None else json.loads(b["ours"]),
                "bank": None if b["bank"] is None else json.loads(b["bank"]),
                "detail": b["detail"],
            }
            for b in breaks
        ],
    }
