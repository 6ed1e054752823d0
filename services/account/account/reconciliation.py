"""Reconciliation with the partner bank, the bank of record (use cases).

One run compares both sides up to a CUTOFF that both have passed (now minus a grace
window), so payments in flight are not breaks:

1. Bank transfers are read from a CURSOR (the last transfer reconciled), at most
   `pages_max` pages a run; the next run goes on from there, however long the history.
2. Each transfer the cutoff has passed is matched with our capture under its reference
   (MISSING_IN_LEDGER, STATUS_MISMATCH, AMOUNT_MISMATCH) and, when confirm is known, with the
   payment's state (PAYMENT_STATE_MISMATCH). Our captures and confirm's COMPLETED payments
   since the last cutoff must have a transfer at the bank (MISSING_AT_BANK,
   PAYMENT_WITHOUT_TRANSFER). A break about a reference stays open, and is re-checked by
   reference on every run, until both sides agree; the cursor moves on regardless.
3. Balances are compared with every payment in flight on either side taken out of both.
   (Only when the bank was read to its end; accounts that moved while it was read wait.)
4. Stale holds and the ledger's own integrity are reported as before.
Matching key: a capture's hold id is the bank transfer's `reference` and the payment id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from paykit import ProblemError
from paykit.http import ServiceCallError
from prometheus_client import Gauge

from . import store
from .clients import ConfirmClient, PartnerBankClient
from .domain import (
    BankSnapshot,
    BankTransfer,
    Break,
    Hold,
    LedgerSnapshot,
    balances_as_of_cutoff,
    find_breaks,
    payment_breaks,
    split_at_cutoff,
    transfer_breaks,
)

log = logging.getLogger("account.reconciliation")
OPEN_BREAKS = Gauge("reconciliation_open_breaks", "Breaks found by the latest reconciliation run")


@dataclass(frozen=True, slots=True)
class ReconciliationLimits:
    page_size: int
    pages_max: int
    stale_hold_after_s: int
    grace_s: float = 60.0
    recheck_max: int = 200  # open breaks re-checked by reference per run
    # Our captures (and confirm's completions) read per run since the last; confirm answers
    # at most 10,000 ids a call.
    ledger_read_max: int = 10_000


@dataclass
class _BankRead:
    transfers: list[BankTransfer] = field(default_factory=list)
    complete: bool = True  # read to the end of the bank's history


async def run_reconciliation(
    pool: asyncpg.Pool,
    bank: PartnerBankClient,
    limits: ReconciliationLimits,
    now: datetime | None = None,
    confirm: ConfirmClient | None = None,
) -> list[Break] | None:
    """Returns the breaks found, or None when the bank could not be read (the run is stored
    as FAILED, the cursor does not move, the last completed report stays the current one)."""
    async with pool.acquire() as conn:
        started = now or await store.db_now(conn)
        cursor, ledger_cutoff = await store.get_cursor(conn)
        rechecks = await store.open_items(conn, limits.recheck_max)
    cutoff = started - timedelta(seconds=limits.grace_s)
    try:
        breaks, read, checked, ledger_reached = await _compare(
            pool, bank, confirm, limits, cursor, ledger_cutoff, cutoff, rechecks
        )
    except ServiceCallError as exc:
        log.warning("reconciliation could not read the bank or confirm: %s", exc)
        async with pool.acquire() as conn, conn.transaction():
            await store.save_run(conn, started, [], error=type(exc).__name__, cutoff=cutoff)
        return None
    settled, _ = split_at_cutoff(read.transfers, cutoff)
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_reconciliation(conn)
        await store.save_run(conn, started, breaks, cutoff=cutoff, transfers_read=len(read.transfers))
        await store.replace_open_items(conn, checked, [b for b in breaks if b.reference])
        last_id = settled[-1].id if settled else cursor
        await store.set_cursor(conn, last_id, ledger_reached)
    OPEN_BREAKS.set(len(breaks))
    if breaks:
        log.warning("reconciliation found %d break(s)", len(breaks))
    return breaks


async def _compare(
    pool: asyncpg.Pool,
    bank: PartnerBankClient,
    confirm: ConfirmClient | None,
    limits: ReconciliationLimits,
    cursor: int,
    ledger_cutoff: datetime | None,
    cutoff: datetime,
    rechecks: Sequence[str],
) -> tuple[list[Break], _BankRead, list[str], datetime]:
    """The breaks, the bank's transfers read, the references checked, and how far our side
    was read: the cutoff, or the last capture read when more were made since the last run
    than one run reads (the next run goes on from there)."""
    read = await _read_transfers(bank, cursor, limits)
    settled, in_flight = split_at_cutoff(read.transfers, cutoff)
    by_ref = {t.reference: t for t in read.transfers}
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        balances = {
            r["account_number"]: (r["balance_minor"], r["currency"])
            for r in await store.customer_balances(conn)
        }
        new_captures = await store.captures_resolved_after(conn, ledger_cutoff, limits.ledger_read_max + 1)
        refs = [t.reference for t in settled] + list(rechecks) + [h.hold_id for h in new_captures]
        captures = {h.hold_id: h for h in await store.posted_holds(conn, refs)}
        pending = await store.pending_holds(conn)
        problems = await store.integrity_problems(conn)
    ledger_complete = len(new_captures) <= limits.ledger_read_max
    ledger_reached = cutoff
    if not ledger_complete:
        # Our captures after the last one read are unknown here: not a single balance can be
        # judged (its payments in flight are not all known), and the cursor stops there.
        new_captures = new_captures[: limits.ledger_read_max]
        last_read = new_captures[-1].resolved_at
        ledger_reached = min(cutoff, last_read) if last_read is not None else cutoff
    breaks: list[Break] = []
    for transfer in settled:
        breaks += transfer_breaks(transfer, captures.get(transfer.reference))
    ours_settled = [h for h in new_captures if h.resolved_at is not None and h.resolved_at <= ledger_reached]
    ours_in_flight = [h for h in new_captures if h.resolved_at is not None and h.resolved_at > cutoff]
    for hold in ours_settled:
        if hold.hold_id not in by_ref:
            by_ref[hold.hold_id] = await bank.transfer(hold.hold_id) or _absent(hold.hold_id)
        breaks += _capture_without_transfer(hold, by_ref[hold.hold_id])
    for reference in rechecks:  # open breaks of earlier runs, by reference
        if reference not in by_ref:
            by_ref[reference] = await bank.transfer(reference) or _absent(reference)
        found, capture = by_ref[reference], captures.get(reference)
        if found.status:
            breaks += transfer_breaks(found, capture)
        elif capture is not None:
            breaks += _capture_without_transfer(capture, found)
    if confirm is not None:
        breaks += await _payment_breaks(
            confirm,
            [*settled, *(by_ref[r] for r in rechecks)],
            by_ref,
            bank,
            ledger_cutoff,
            ledger_reached,
            limits.ledger_read_max,
        )
    if read.complete and ledger_complete:
        bank_balances = await _read_balances(bank, list(balances), limits)
        tail = await _read_transfers(bank, read.transfers[-1].id if read.transfers else cursor, limits)
        unsure = {a for t in tail.transfers for a in (t.from_account, t.to_account) if a}
        breaks += balances_as_of_cutoff(
            balances, bank_balances, read.transfers, in_flight, ours_in_flight, unsure
        )
        if not tail.complete:
            log.info("the bank moved on while it was read; balances compared where nothing moved")
    breaks += find_breaks(
        LedgerSnapshot({}, {}, pending, problems),
        BankSnapshot({}),
        cutoff + timedelta(seconds=limits.grace_s),
        limits.stale_hold_after_s,
    )
    checked = list(
        dict.fromkeys([*rechecks, *(t.reference for t in settled), *(h.hold_id for h in ours_settled)])
    )
    return _dedupe(breaks), read, checked, ledger_reached


def _absent(reference: str) -> BankTransfer:
    return BankTransfer(reference, "", 0, "", None, None)


def _capture_without_transfer(hold: Hold, transfer: BankTransfer) -> list[Break]:
    if transfer.status:
        return []  # matched (transfer_breaks judges the pair where the bank side is read)
    return [
        Break(
            "MISSING_AT_BANK",
            account_number=hold.account_number,
            reference=hold.hold_id,
            ours={"status": hold.status, "captured_minor": hold.captured_minor, "currency": hold.currency},
            detail="We captured a payment the bank has no transfer for",
        )
    ]


async def _payment_breaks(
    confirm: ConfirmClient,
    settled: Sequence[BankTransfer],
    by_ref: dict[str, BankTransfer],
    bank: PartnerBankClient,
    ledger_cutoff: datetime | None,
    cutoff: datetime,
    read_max: int,
) -> list[Break]:
    breaks: list[Break] = []
    states = await confirm.payment_states([t.reference for t in settled])
    for transfer in settled:
        state = states.get(transfer.reference)
        breaks += payment_breaks(transfer if transfer.status else None, transfer.reference, state)
    since = ledger_cutoff or cutoff - timedelta(days=3650)
    for payment_id in await confirm.completed_between(since, cutoff, read_max):
        found = by_ref.get(payment_id) or await bank.transfer(payment_id)
        if found is None or not found.status:
            breaks += payment_breaks(None, payment_id, "COMPLETED")
    return breaks


def _dedupe(breaks: list[Break]) -> list[Break]:
    seen: set[tuple[str, str | None, str | None]] = set()
    unique = []
    for b in breaks:
        key = (b.kind, b.reference, b.account_number if b.reference is None else None)
        if key not in seen:
            seen.add(key)
            unique.append(b)
    return sorted(unique, key=lambda b: (b.kind, b.reference or b.account_number or ""))


async def _read_transfers(bank: PartnerBankClient, after_id: int, limits: ReconciliationLimits) -> _BankRead:
    read = _BankRead()
    for _ in range(limits.pages_max):
        page, more = await bank.transfers_page(after_id, limits.page_size)
        read.transfers += page
        if not page or not more:
            return read
        after_id = page[-1].id
    read.complete = False  # the rest waits for the next run: the cursor resumes there
    return read


async def _read_balances(
    bank: PartnerBankClient, numbers: list[str], limits: ReconciliationLimits
) -> dict[str, tuple[int, str] | None]:
    """The bank's balance of each of `numbers` (None: the bank holds no such account), read
    a page of accounts at a time: one call per account was a burst of as many calls every
    run. Past `pages_max` pages, the accounts not found yet are asked one by one."""
    found: dict[str, tuple[int, str]] = {}
    after: str | None = ""
    for _ in range(limits.pages_max):
        page, after = await bank.balances_page(after or "", limits.page_size)
        found |= page
        if after is None:
            return {number: found.get(number) for number in numbers}
    return {number: found[number] if number in found else await bank.balance(number) for number in numbers}


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
