"""Every SQL statement of the partner bank. Functions take a connection; the use case owns
the transaction."""

from __future__ import annotations

import asyncpg

from .domain import BankPolicy, FaultSpec, TransferCommand

# Transaction-scoped advisory lock keys (arbitrary constants, unique within the schema's DB).
# Transfers execute one at a time (process_transfer takes it): the idempotency check and the
# insert can never race, and transfer ids commit in increasing order, which makes `after_id`
# paging safe.
TRANSFERS_LOCK_KEY = 0x7061_6E6B_0001
FAULTS_LOCK_KEY = 0x7061_6E6B_0002

_TRANSFER_COLUMNS = """id, reference, reference_number, from_account, to_account, amount_minor,
    currency, status, error_code, message, processing_fee_minor, created_at, processed_at"""


async def get_transfer(conn: asyncpg.Connection, reference: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE reference = $1",
        reference,
    )


async def list_transfers(conn: asyncpg.Connection, after_id: int, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE id > $1 ORDER BY id LIMIT $2",
        after_id,
        limit,
    )
    return rows


async def process_transfer(
    conn: asyncpg.Connection,
    command: TransferCommand,
    *,
    reference_number: str,
    policy: BankPolicy,
    decline_code: str | None,
    check_faults: bool,
) -> tuple[str, asyncpg.Record | None]:
    """The whole transfer in one statement (migration 0002's `process_transfer`): the
    outcome (FAULT_PENDING, REPLAYED or EXECUTED) and the transfer row, None when a fault
    is pending and nothing was done."""
    row = await conn.fetchrow(
        """SELECT r.outcome, (r.transfer).*
           FROM process_transfer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS r""",
        TRANSFERS_LOCK_KEY,
        check_faults,
        command.reference,
        reference_number,
        command.from_account,
        command.to_account,
        command.amount_minor,
        command.currency,
        policy.transfer_limit_minor,
        policy.processing_fee_minor,
        decline_code,
    )
    assert row is not None  # the function always returns its one row
    outcome: str = row["outcome"]
    return outcome, None if outcome == "FAULT_PENDING" else row


async def get_account(conn: asyncpg.Connection, account_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT account_number, holder_name, currency, balance_minor, updated_at
           FROM bank_accounts WHERE account_number = $1""",
        account_number,
    )


async def list_accounts(conn: asyncpg.Connection, after: str, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT account_number, holder_name, currency, balance_minor, updated_at
           FROM bank_accounts WHERE account_number > $1 ORDER BY account_number LIMIT $2""",
        after,
        limit,
    )
    return rows


async def lock_faults(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", FAULTS_LOCK_KEY)


async def take_fault(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """Consume one call of the oldest pending fault (callers hold the faults lock)."""
    return await conn.fetchrow(
        """UPDATE fault_schedule SET remaining = remaining - 1
           WHERE id = (SELECT id FROM fault_schedule WHERE remaining > 0 ORDER BY id LIMIT 1)
           RETURNING id, mode, remaining, latency_ms, error_code"""
    )


async def add_faults(conn: asyncpg.Connection, faults: list[FaultSpec]) -> None:
    await conn.executemany(
        """INSERT INTO fault_schedule (mode, remaining, latency_ms, error_code)
           VALUES ($1, $2, $3, $4)""",
        [(f.mode, f.count, f.latency_ms, f.error_code) for f in faults],
    )


async def clear_faults(conn: asyncpg.Connection) -> int:
    status = await conn.execute("DELETE FROM fault_schedule")
    return int(status.split()[-1])


async def pending_faults(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, mode, remaining, latency_ms, error_code FROM fault_schedule
           WHERE remaining > 0 ORDER BY id"""
    )
    return rows
