"""Every SQL statement of the partner bank. Functions take a connection; the use case owns
the transaction."""

from __future__ import annotations

import asyncpg

from .domain import AccountSnapshot, FaultSpec

# Transaction-scoped advisory lock keys (arbitrary constants, unique within the schema's DB).
# Transfers execute one at a time: the idempotency check and the insert can never race, and
# transfer ids commit in increasing order, which makes `after_id` paging safe.
TRANSFERS_LOCK_KEY = 0x7061_6E6B_0001
FAULTS_LOCK_KEY = 0x7061_6E6B_0002

_TRANSFER_COLUMNS = """id, reference, reference_number, from_account, to_account, amount_minor,
    currency, status, error_code, message, processing_fee_minor, created_at, processed_at"""


async def lock_transfers(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", TRANSFERS_LOCK_KEY)


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


async def insert_transfer(
    conn: asyncpg.Connection,
    *,
    reference: str,
    reference_number: str,
    from_account: str,
    to_account: str,
    amount_minor: int,
    currency: str,
    status: str,
    error_code: str | None,
    message: str | None,
    processing_fee_minor: int,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO transfers (reference, reference_number, from_account, to_account,
                amount_minor, currency, status, error_code, message, processing_fee_minor)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            RETURNING {_TRANSFER_COLUMNS}""",
        reference,
        reference_number,
        from_account,
        to_account,
        amount_minor,
        currency,
        status,
        error_code,
        message,
        processing_fee_minor,
    )
    assert row is not None
    return row


async def get_account(conn: asyncpg.Connection, account_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT account_number, holder_name, currency, balance_minor, updated_at
           FROM bank_accounts WHERE account_number = $1""",
        account_number,
    )


async def get_accounts(conn: asyncpg.Connection, *account_numbers: str) -> dict[str, asyncpg.Record]:
    """Several accounts in one round trip, by number; a missing one is absent."""
    rows = await conn.fetch(
        """SELECT account_number, holder_name, currency, balance_minor, updated_at
           FROM bank_accounts WHERE account_number = ANY($1::text[])""",
        list(account_numbers),
    )
    return {row["account_number"]: row for row in rows}


def snapshot(row: asyncpg.Record | None) -> AccountSnapshot | None:
    if row is None:
        return None
    return AccountSnapshot(row["account_number"], row["currency"].strip(), row["balance_minor"])


async def move(conn: asyncpg.Connection, from_account: str, to_account: str, amount_minor: int) -> bool:
    """Debit only if the money is there, and credit the payee, in one statement; False (and
    nothing moved) when the balance does not cover it."""
    if from_account == to_account:
        raise ValueError("a transfer moves money between two accounts")
    row = await conn.fetchrow(
        """WITH debited AS (
              UPDATE bank_accounts SET balance_minor = balance_minor - $3, updated_at = now()
               WHERE account_number = $1 AND balance_minor >= $3 RETURNING 1),
           credited AS (
              UPDATE bank_accounts SET balance_minor = balance_minor + $3, updated_at = now()
               WHERE account_number = $2 AND EXISTS (SELECT 1 FROM debited) RETURNING 1)
           SELECT (SELECT count(*) FROM debited) AS debited, (SELECT count(*) FROM credited) AS credited""",
        from_account,
        to_account,
        amount_minor,
    )
    if row["debited"] != row["credited"]:
        # The payee was read under the same lock a moment ago: this is a bug, not a decline.
        raise RuntimeError(f"debited {row['debited']} and credited {row['credited']} accounts")
    return bool(row["debited"])


async def lock_faults(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", FAULTS_LOCK_KEY)


async def any_fault_pending(conn: asyncpg.Connection) -> bool:
    """An unlocked look: is anything scheduled at all? (Nearly always no.)"""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM fault_schedule WHERE remaining > 0)"))


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
