"""Every SQL statement of the account service. Functions take a connection; the caller
(a use case) owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from .domain import PENDING, Break, Hold, HoldRequest

# A connection or a pool's connection proxy (asyncpg ships no type information).
Conn: TypeAlias = Any

_HOLD_COLUMNS = """hold_id, account_number, to_account, amount_minor, currency, customer_id, status,
    failure_code, captured_minor, entry_id, expires_at, created_at, resolved_at"""


def _hold(row: asyncpg.Record) -> Hold:
    return Hold(**{key: (value.strip() if key == "currency" else value) for key, value in row.items()})


# --- Customers and accounts -------------------------------------------------------------


async def get_customer(conn: Conn, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT customer_id, full_name, email, phone, country FROM customers WHERE customer_id = $1",
        customer_id,
    )


async def list_customers(conn: Conn, after: str, limit: int) -> list[asyncpg.Record]:
    """Customers in id order after `after` (keyset paging: stable while customers are added)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT customer_id, full_name, email, phone, country FROM customers
            WHERE customer_id > $1 ORDER BY customer_id LIMIT $2""",
        after,
        limit,
    )
    return rows


_ACCOUNT_COLUMNS = """account_number, customer_id, currency::text AS currency, account_type, status,
    balance_minor, held_minor, balance_minor - held_minor AS available_minor, created_at"""


async def get_account(conn: Conn, account_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_number = $1", account_number
    )


async def get_accounts(conn: Conn, account_numbers: Sequence[str]) -> dict[str, asyncpg.Record]:
    """Several accounts in one round trip, by number; a missing one is absent."""
    rows = await conn.fetch(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_number = ANY($1::text[])",
        list(account_numbers),
    )
    return {row["account_number"]: row for row in rows}


async def payment_parties(
    conn: Conn, from_account: str | None, to_account: str | None
) -> list[asyncpg.Record]:
    """Both accounts of a payment with their owners' name and country, in one round trip:
    the checks before a payment (confirm) and its screening (risk) each need both."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT p.role, a.account_number, a.customer_id, a.currency::text AS currency, a.status,
                  c.full_name, c.country
             FROM (VALUES ('payer', $1::text), ('payee', $2::text)) AS p (role, account_number)
             JOIN accounts a USING (account_number)
             LEFT JOIN customers c ON c.customer_id = a.customer_id
            WHERE a.account_type <> 'SYSTEM'""",
        from_account,
        to_account,
    )
    return rows


async def customer_balances(conn: Conn) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT account_number, currency::text AS currency, balance_minor FROM accounts
            WHERE account_type <> 'SYSTEM' ORDER BY account_number"""
    )
    return rows


async def statement(conn: Conn, account_number: str, before_posting_id: int | None, limit: int) -> list[Any]:
    """Postings of one account, newest first, keyset-paginated on posting_id."""
    rows: list[Any] = await conn.fetch(
        """SELECT p.posting_id, p.entry_id, p.amount_minor, p.currency::text AS currency, p.created_at,
                  e.kind, e.reference, e.description
             FROM postings p JOIN journal_entries e USING (entry_id)
            WHERE p.account_number = $1 AND ($2::bigint IS NULL OR p.posting_id < $2)
            ORDER BY p.posting_id DESC LIMIT $3""",
        account_number,
        before_posting_id,
        limit,
    )
    return rows


# --- Journal ----------------------------------------------------------------------------


async def insert_entry(
    conn: Conn,
    kind: str,
    legs: Sequence[tuple[str, int]],
    currency: str,
    *,
    reference: str | None = None,
    description: str = "",
    entry_id: str | None = None,
) -> str:
    """One journal entry and its postings. The posting trigger moves the cached balances;
    the deferred trigger refuses the commit if the entry does not balance."""
    # One statement: the entry and its postings (each moving its account's balance) go in
    # together, and the postings' foreign key sees the entry inserted beside it.
    new_id: str = await conn.fetchval(
        """WITH entry AS (
               INSERT INTO journal_entries (entry_id, kind, reference, description)
               VALUES (COALESCE($1, gen_random_uuid()::text), $2, $3, $4) RETURNING entry_id),
           legs AS (
               INSERT INTO postings (entry_id, account_number, amount_minor, currency)
               SELECT entry.entry_id, leg.account_number, leg.amount_minor, $7
                 FROM entry, unnest($5::text[], $6::bigint[]) WITH ORDINALITY
                      AS leg (account_number, amount_minor, n)
                ORDER BY leg.n)
           SELECT entry_id FROM entry""",
        entry_id,
        kind,
        reference,
        description,
        [account for account, _ in legs],
        [amount for _, amount in legs],
        currency,
    )
    return new_id


async def ensure_system_account(conn: Conn, account_number: str, currency: str) -> None:
    await conn.execute(
        """INSERT INTO accounts (account_number, customer_id, currency, account_type, allow_negative)
           VALUES ($1, NULL, $2, 'SYSTEM', TRUE) ON CONFLICT (account_number) DO NOTHING""",
        account_number,
        currency,
    )


async def insert_customer(conn: Conn, customer: dict[str, str | None]) -> None:
    await conn.execute(
        """INSERT INTO customers (customer_id, full_name, email, phone, country)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO NOTHING""",
        customer["customer_id"],
        customer["full_name"],
        customer.get("email"),
        customer.get("phone"),
        customer.get("country"),
    )


async def insert_account(conn: Conn, account_number: str, customer_id: str, currency: str) -> bool:
    status = await conn.execute(
        """INSERT INTO accounts (account_number, customer_id, currency) VALUES ($1, $2, $3)
           ON CONFLICT (account_number) DO NOTHING""",
        account_number,
        customer_id,
        currency,
    )
    return bool(status.endswith(" 1"))


# --- Holds ------------------------------------------------------------------------------


async def clock_and_locked_hold(conn: Conn, hold_id: str) -> tuple[datetime, Hold | None]:
    """The database's clock (the transaction's start) and the hold, locked for the rest of the
    transaction, in one round trip: every hold use case starts with both."""
    row = await conn.fetchrow(
        f"""SELECT now() AS clock, h.* FROM (SELECT 1) AS one
              LEFT JOIN LATERAL (SELECT {_HOLD_COLUMNS} FROM holds WHERE hold_id = $1 FOR UPDATE) AS h
                ON true""",
        hold_id,
    )
    return row["clock"], _hold_of(row)


def _hold_of(row: asyncpg.Record) -> Hold | None:
    if row["hold_id"] is None:
        return None
    return _hold({key: value for key, value in row.items() if key not in ("clock", "released")})


async def lock_and_release_hold(conn: Conn, hold_id: str) -> tuple[datetime, Hold | None]:
    """`clock_and_locked_hold` for a capture, in the same one round trip: a pending hold's two
    accounts are locked too, after the hold and in `lock_accounts`' order (a capture A->B and
    one B->A then queue on the same first lock instead of deadlocking), and then the hold's
    amount is released from its payer's held amount, as `unreserve` does. Both ways on from
    PENDING here, posting and expiring, start with that release; anything that refuses the
    capture after it rolls the transaction back with it. The hold returned is as it was
    before the release (still PENDING)."""
    row = await conn.fetchrow(
        f"""WITH h AS (SELECT {_HOLD_COLUMNS} FROM holds WHERE hold_id = $1 FOR UPDATE),
           locked AS (
               SELECT count(*) AS n FROM (
                   SELECT 1 FROM accounts, h
                    WHERE h.status = 'PENDING'
                      AND accounts.account_number IN (h.account_number, h.to_account)
                    ORDER BY accounts.account_number FOR NO KEY UPDATE OF accounts) AS each_locked),
           released AS (
               UPDATE accounts SET held_minor = accounts.held_minor - h.amount_minor, updated_at = now()
                 FROM h, locked
                WHERE h.status = 'PENDING' AND locked.n > 0
                  AND accounts.account_number = h.account_number AND accounts.held_minor >= h.amount_minor
               RETURNING accounts.account_number)
           SELECT now() AS clock, (SELECT count(*) FROM released) AS released, h.*
             FROM (SELECT 1) AS one LEFT JOIN h ON true""",
        hold_id,
    )
    hold = _hold_of(row)
    if hold is not None and hold.status == PENDING and row["released"] != 1:
        raise RuntimeError(f"held amount of {hold.account_number} is smaller than a pending hold")
    return row["clock"], hold


async def get_hold(conn: Conn, hold_id: str, *, for_update: bool = False) -> Hold | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_HOLD_COLUMNS} FROM holds WHERE hold_id = $1{lock}", hold_id)
    return _hold(row) if row else None


def _hold_parameters(request: HoldRequest) -> tuple[str, str, str, int, str, str | None]:
    """$1..$6 of both hold inserts, in the order of their column lists."""
    return (
        request.hold_id,
        request.account_number,
        request.to_account,
        request.amount_minor,
        request.currency,
        request.customer_id,
    )


async def insert_pending_hold(conn: Conn, request: HoldRequest, expires_at: datetime) -> Hold | None:
    """The hold row first: a concurrent request with the same id waits on it, then sees it.
    None when the id already exists."""
    row = await conn.fetchrow(
        f"""INSERT INTO holds (hold_id, account_number, to_account, amount_minor, currency, customer_id,
                               status, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7)
            ON CONFLICT (hold_id) DO NOTHING RETURNING {_HOLD_COLUMNS}""",
        *_hold_parameters(request),
        expires_at,
    )
    return _hold(row) if row else None


async def place_new_hold(conn: Conn, request: HoldRequest, at: datetime | None) -> Hold | None:
    """The common case of hold placement in one statement (no transaction around it): a new
    id, both accounts fit to move money and the payer's available balance covers the amount.
    Reserves the amount and inserts the PENDING hold, expiring `expires_in_s` after `at` (the
    database's clock when None), and returns it; None, having written nothing, in every
    other case (the caller then runs the full transaction, which answers those). The checks
    are those of `usecases._check_hold_accounts` and `reserve`; the payer's are evaluated on
    its row as it is locked. The same id inserted concurrently raises UniqueViolationError,
    which rolls the whole statement back, the reservation with it."""
    row = await conn.fetchrow(
        f"""WITH reserved AS (
              UPDATE accounts payer SET held_minor = held_minor + $4, updated_at = now()
               WHERE payer.account_number = $2 AND payer.account_type <> 'SYSTEM'
                 AND payer.status = 'ACTIVE' AND payer.currency::text = $5::text
                 AND ($6::text IS NULL OR payer.customer_id = $6::text)
                 AND (payer.allow_negative OR payer.balance_minor - payer.held_minor >= $4)
                 AND $2 <> $3
                 AND EXISTS (SELECT 1 FROM accounts payee WHERE payee.account_number = $3
                               AND payee.currency::text = $5::text AND payee.status <> 'CLOSED')
                 AND NOT EXISTS (SELECT 1 FROM holds WHERE hold_id = $1)
              RETURNING payer.account_number)
            INSERT INTO holds (hold_id, account_number, to_account, amount_minor, currency, customer_id,
                               status, expires_at)
            SELECT $1, reserved.account_number, $3, $4, $5::text, $6::text, 'PENDING',
                   COALESCE($7::timestamptz, now()) + make_interval(secs => $8)
              FROM reserved
            RETURNING {_HOLD_COLUMNS}""",
        *_hold_parameters(request),
        at,
        request.expires_in_s,
    )
    return _hold(row) if row else None


async def lock_accounts(conn: Conn, account_numbers: Sequence[str]) -> None:
    """Row locks on the accounts a transaction will move, always in account-number order:
    every money-moving transaction takes them this way first, so none waits in a cycle.
    NO KEY UPDATE, the lock an UPDATE of the balance takes anyway: FOR UPDATE would also
    block the KEY SHARE locks that foreign-key checks take (a hold or posting inserted for
    the account), which hold placement takes in payer-then-payee order: a cycle."""
    numbers = sorted(set(account_numbers))
    if numbers:
        await conn.execute(
            """SELECT 1 FROM accounts WHERE account_number = ANY($1::text[])
                ORDER BY account_number FOR NO KEY UPDATE""",
            numbers,
        )


async def db_now(conn: Conn) -> datetime:
    """The database's clock (the transaction's start time)."""
    at: datetime = await conn.fetchval("SELECT now()")
    return at


async def extend_hold(conn: Conn, hold_id: str, expires_at: datetime) -> Hold:
    row = await conn.fetchrow(
        f"""UPDATE holds SET expires_at = GREATEST(expires_at, $2)
             WHERE hold_id = $1 AND status = 'PENDING' RETURNING {_HOLD_COLUMNS}""",
        hold_id,
        expires_at,
    )
    if row is None:
        raise RuntimeError(f"hold {hold_id} was not pending")
    return _hold(row)


async def reserve(conn: Conn, account_number: str, amount_minor: int) -> bool:
    """Raise the held amount only if the available balance covers it: one atomic statement."""
    row = await conn.fetchrow(
        """UPDATE accounts SET held_minor = held_minor + $1, updated_at = now()
            WHERE account_number = $2 AND (allow_negative OR balance_minor - held_minor >= $1)
        RETURNING held_minor""",
        amount_minor,
        account_number,
    )
    return row is not None


async def unreserve(conn: Conn, account_number: str, amount_minor: int) -> None:
    status = await conn.execute(
        """UPDATE accounts SET held_minor = held_minor - $1, updated_at = now()
            WHERE account_number = $2 AND held_minor >= $1""",
        amount_minor,
        account_number,
    )
    if not status.endswith(" 1"):
        raise RuntimeError(f"held amount of {account_number} is smaller than a pending hold")


async def resolve_hold(
    conn: Conn,
    hold_id: str,
    status: str,
    now: datetime,
    *,
    captured_minor: int = 0,
    entry_id: str | None = None,
    failure_code: str | None = None,
) -> Hold:
    row = await conn.fetchrow(
        f"""UPDATE holds SET status = $2, captured_minor = $3, entry_id = $4, failure_code = $5,
                             resolved_at = $6
             WHERE hold_id = $1 AND status = 'PENDING' RETURNING {_HOLD_COLUMNS}""",
        hold_id,
        status,
        captured_minor,
        entry_id,
        failure_code,
        now,
    )
    if row is None:
        raise RuntimeError(f"hold {hold_id} was not pending")
    return _hold(row)


async def capture_pending_hold(conn: Conn, hold_id: str, captured_minor: int | None) -> Hold | None:
    """Nearly every capture is a pending hold in its time, captured whole: migration 0006's
    `capture_pending_hold` does `lock_and_release_hold` and `post_capture` in one statement.
    None, having changed nothing, in every other case, for the caller's transaction."""
    row = await conn.fetchrow(
        f"SELECT {_HOLD_COLUMNS} FROM capture_pending_hold($1, $2)", hold_id, captured_minor
    )
    return _hold(row) if row else None


async def post_capture(
    conn: Conn, hold: Hold, captured_minor: int, legs: Sequence[tuple[str, int]], at: datetime
) -> Hold:
    """A pending hold's capture in one statement: its journal entry and postings (as
    `insert_entry` writes them) and the hold resolved POSTED with that entry. The caller has
    locked the hold and both accounts and released the held amount."""
    row = await conn.fetchrow(
        f"""WITH entry AS (
               INSERT INTO journal_entries (entry_id, kind, reference, description)
               VALUES (gen_random_uuid()::text, 'CAPTURE', $1, $2) RETURNING entry_id),
           legs AS (
               INSERT INTO postings (entry_id, account_number, amount_minor, currency)
               SELECT entry.entry_id, leg.account_number, leg.amount_minor, $5
                 FROM entry, unnest($3::text[], $4::bigint[]) WITH ORDINALITY
                      AS leg (account_number, amount_minor, n)
                ORDER BY leg.n)
           UPDATE holds SET status = 'POSTED', captured_minor = $6, failure_code = NULL,
                            entry_id = (SELECT entry_id FROM entry), resolved_at = $7
            WHERE hold_id = $1 AND status = 'PENDING' RETURNING {_HOLD_COLUMNS}""",
        hold.hold_id,
        f"Payment {hold.hold_id}",
        [account for account, _ in legs],
        [amount for _, amount in legs],
        hold.currency,
        captured_minor,
        at,
    )
    if row is None:
        raise RuntimeError(f"hold {hold.hold_id} was not pending")
    return _hold(row)


async def lock_expired_holds(conn: Conn, now: datetime, limit: int) -> list[Hold]:
    rows = await conn.fetch(
        f"""SELECT {_HOLD_COLUMNS} FROM holds WHERE status = 'PENDING' AND expires_at <= $1
            ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_hold(r) for r in rows]


async def posted_holds(conn: Conn, references: Sequence[str]) -> list[Hold]:
    rows = await conn.fetch(
        f"SELECT {_HOLD_COLUMNS} FROM holds WHERE status = 'POSTED' AND hold_id = ANY($1::text[])",
        list(references),
    )
    return [_hold(r) for r in rows]


async def captures_resolved_after(conn: Conn, after: datetime | None, limit: int) -> list[Hold]:
    rows = await conn.fetch(
        f"""SELECT {_HOLD_COLUMNS} FROM holds
             WHERE status = 'POSTED' AND ($1::timestamptz IS NULL OR resolved_at > $1)
             ORDER BY resolved_at LIMIT $2""",
        after,
        limit,
    )
    return [_hold(r) for r in rows]


async def get_cursor(conn: Conn) -> tuple[int, datetime | None]:
    row = await conn.fetchrow("SELECT last_transfer_id, ledger_cutoff FROM reconciliation_cursor")
    return (row["last_transfer_id"], row["ledger_cutoff"]) if row else (0, None)


async def set_cursor(conn: Conn, last_transfer_id: int, ledger_cutoff: datetime) -> None:
    await conn.execute(
        """UPDATE reconciliation_cursor SET last_transfer_id = GREATEST(last_transfer_id, $1),
                  ledger_cutoff = GREATEST(ledger_cutoff, $2), updated_at = now()""",
        last_transfer_id,
        ledger_cutoff,
    )


async def open_items(conn: Conn, limit: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT reference FROM reconciliation_open_items ORDER BY first_seen LIMIT $1", limit
    )
    return [r["reference"] for r in rows]


async def lock_reconciliation(conn: Conn) -> None:
    """Runs (the background loop, POST /reconciliation/run) save one at a time: each takes
    the cursor row first, so two never lock open items in opposite orders."""
    await conn.execute("SELECT 1 FROM reconciliation_cursor FOR UPDATE")


async def replace_open_items(conn: Conn, checked: Sequence[str], still_open: Sequence[Break]) -> None:
    """The references re-checked this run are closed unless a break about them remains."""
    await conn.execute(
        "DELETE FROM reconciliation_open_items WHERE reference = ANY($1::text[])", list(checked)
    )
    await conn.executemany(
        """INSERT INTO reconciliation_open_items (reference, kind) VALUES ($1, $2)
           ON CONFLICT (reference) DO UPDATE SET kind = EXCLUDED.kind""",
        sorted({(b.reference, b.kind) for b in still_open if b.reference}),
    )


async def pending_holds(conn: Conn) -> list[Hold]:
    rows = await conn.fetch(f"SELECT {_HOLD_COLUMNS} FROM holds WHERE status = $1", PENDING)
    return [_hold(r) for r in rows]


# --- Integrity --------------------------------------------------------------------------

_INTEGRITY_CHECKS = {
    "cached balance differs from postings": """
        SELECT a.account_number FROM accounts a
          LEFT JOIN (SELECT account_number, sum(amount_minor) AS total FROM postings
                      GROUP BY account_number) p USING (account_number)
         WHERE a.balance_minor <> COALESCE(p.total, 0)""",
    "cached held amount differs from pending holds": """
        SELECT a.account_number FROM accounts a
          LEFT JOIN (SELECT account_number, sum(amount_minor) AS total FROM holds
                      WHERE status = 'PENDING' GROUP BY account_number) h USING (account_number)
         WHERE a.held_minor <> COALESCE(h.total, 0)""",
    "journal entry does not balance": """
        SELECT entry_id FROM postings GROUP BY entry_id, currency HAVING sum(amount_minor) <> 0""",
    "currency total over all accounts is not zero": """
        SELECT currency::text FROM postings GROUP BY currency HAVING sum(amount_minor) <> 0""",
    "customer account below zero": """
        SELECT account_number FROM accounts
         WHERE NOT allow_negative AND (balance_minor < 0 OR balance_minor - held_minor < 0)""",
}


async def integrity_problems(conn: Conn) -> list[str]:
    """The check query: every way the ledger could disagree with itself, as readable lines.
    Empty when the cached columns match the postings and holds and every entry balances."""
    problems = []
    for name, sql in _INTEGRITY_CHECKS.items():
        for row in await conn.fetch(sql):
            problems.append(f"{name}: {row[0]}")
    return problems


# --- Reconciliation ---------------------------------------------------------------------


async def save_run(
    conn: Conn,
    started_at: datetime,
    breaks: Sequence[Break],
    *,
    error: str | None = None,
    cutoff: datetime | None = None,
    transfers_read: int = 0,
) -> int:
    run_id: int = await conn.fetchval(
        """INSERT INTO reconciliation_runs (started_at, status, error, open_breaks, cutoff, transfers_read)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id""",
        started_at,
        "FAILED" if error else "COMPLETED",
        error,
        len(breaks),
        cutoff,
        transfers_read,
    )
    await conn.executemany(
        """INSERT INTO reconciliation_breaks (run_id, kind, account_number, reference, ours, bank, detail)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)""",
        [
            (
                run_id,
                b.kind,
                b.account_number,
                b.reference,
                None if b.ours is None else json.dumps(b.ours),
                None if b.bank is None else json.dumps(b.bank),
                b.detail,
            )
            for b in breaks
        ],
    )
    return run_id


async def latest_run(conn: Conn) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    run = await conn.fetchrow(
        """SELECT run_id, started_at, finished_at, open_breaks FROM reconciliation_runs
            WHERE status = 'COMPLETED' ORDER BY run_id DESC LIMIT 1"""
    )
    if run is None:
        return None
    breaks = await conn.fetch(
        """SELECT kind, account_number, reference, ours::text AS ours, bank::text AS bank, detail
             FROM reconciliation_breaks WHERE run_id = $1 ORDER BY break_id""",
        run["run_id"],
    )
    return run, list(breaks)
