"""What the bank does, one function per use case, one database transaction each.

Fault injection models the bank's front door, not its books: a fault is consumed in its
own short transaction before the transfer's, and no delay is ever served while a
transaction (or the transfers lock) is held. A transfer is one statement (migration 0002's
`process_transfer`), which also tells when a fault is pending.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import asyncpg
from paykit import ProblemError
from prometheus_client import Counter

from . import store
from .domain import BankPolicy, FaultSpec, TransferCommand

log = logging.getLogger("partner_bank.usecases")

TRANSFERS = Counter("bank_transfers_total", "Transfers the bank recorded", ["status", "error_code"])
FAULTS = Counter("bank_faults_injected_total", "Injected faults served", ["mode"])


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    transfer: asyncpg.Record
    replayed: bool


@dataclass(frozen=True, slots=True)
class Fault:
    mode: str
    latency_ms: int
    error_code: str | None


async def process_transfer(
    pool: asyncpg.Pool, policy: BankPolicy, command: TransferCommand
) -> TransferOutcome:
    """Execute the transfer at most once per reference; a retry gets the first outcome.

    One statement when no fault is scheduled (nearly always): it looks for a pending fault
    and, finding none, executes. Otherwise it does nothing and the fault is served first,
    then the transfer runs without that look."""
    if policy.base_latency_ms:
        await asyncio.sleep(policy.base_latency_ms / 1000)
    outcome = await _execute(pool, policy, command, decline_code=None, check_faults=True)
    if outcome is not None:
        return outcome
    fault = await _take_fault(pool)
    if fault and fault.mode == "latency" and fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault and fault.mode == "error_5xx":
        raise ProblemError(
            503,
            "BANK_UNAVAILABLE",
            "The bank is temporarily unavailable; nothing was executed",
            headers={"Retry-After": "1"},
        )
    decline_code = fault.error_code if fault and fault.mode == "decline" else None
    outcome = await _execute(pool, policy, command, decline_code=decline_code, check_faults=False)
    if outcome is None:
        raise RuntimeError("process_transfer reported a pending fault when told not to look")
    if fault and fault.mode == "timeout_after_execute":
        # Committed above; the caller gives up before this answer: the unknown outcome.
        await asyncio.sleep(fault.latency_ms / 1000)
    return outcome


async def _take_fault(pool: asyncpg.Pool) -> Fault | None:
    """Consume one call of the oldest pending fault; None when others took the last ones."""
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_faults(conn)
        row = await store.take_fault(conn)
    if row is None:
        return None
    FAULTS.labels(row["mode"]).inc()
    log.info("injecting fault %s (%d left of this one)", row["mode"], row["remaining"])
    return Fault(row["mode"], row["latency_ms"], row["error_code"])


async def _execute(
    pool: asyncpg.Pool,
    policy: BankPolicy,
    command: TransferCommand,
    *,
    decline_code: str | None,
    check_faults: bool,
) -> TransferOutcome | None:
    """The transfer as one statement (and one transaction); None when `check_faults` found
    a fault pending, in which case nothing was done."""
    try:
        async with pool.acquire() as conn:
            outcome, row = await store.process_transfer(
                conn,
                command,
                reference_number=_new_reference_number(),
                policy=policy,
                decline_code=decline_code,
                check_faults=check_faults,
            )
    except asyncpg.QueryCanceledError:
        # The statement timeout fired (a long queue for the transfers lock): rolled back,
        # so nothing executed and the caller may retry with the same reference.
        raise ProblemError(
            503, "BANK_BUSY", "The bank is busy; nothing was executed", headers={"Retry-After": "1"}
        ) from None
    if row is None:
        return None
    if outcome == "REPLAYED":
        if not command.matches(
            row["from_account"], row["to_account"], row["amount_minor"], row["currency"].strip()
        ):
            raise ProblemError(
                409, "REFERENCE_CONFLICT", "This reference was already used for a different transfer"
            )
        return TransferOutcome(row, replayed=True)
    TRANSFERS.labels(row["status"], row["error_code"] or "").inc()
    return TransferOutcome(row, replayed=False)


def _new_reference_number() -> str:
    return f"BNK{uuid.uuid4().hex[:16].upper()}"


async def get_transfer(pool: asyncpg.Pool, reference: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_transfer(conn, reference)
    if row is None:
        raise ProblemError(404, "TRANSFER_NOT_FOUND", "No transfer with this reference reached the bank")
    return row


async def list_transfers(pool: asyncpg.Pool, after_id: int, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await store.list_transfers(conn, after_id, limit)


async def list_balances(pool: asyncpg.Pool, after: str, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await store.list_accounts(conn, after, limit)


async def get_balance(pool: asyncpg.Pool, account_number: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_account(conn, account_number)
    if row is None:
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", "The account is not held at this bank")
    return row


async def schedule_faults(pool: asyncpg.Pool, faults: list[FaultSpec]) -> list[asyncpg.Record]:
    """Append faults to the schedule; they are served after those already pending."""
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_faults(conn)
        await store.add_faults(conn, faults)
        return await store.pending_faults(conn)


async def replace_faults(pool: asyncpg.Pool, faults: list[FaultSpec]) -> None:
    """The schedule from the settings, loaded at start-up in place of any left over."""
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_faults(conn)
        await store.clear_faults(conn)
        if faults:
            await store.add_faults(conn, faults)


async def list_faults(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await store.pending_faults(conn)


async def clear_faults(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_faults(conn)
        return await store.clear_faults(conn)
