"""Use cases of the ledger: one function each, one database transaction each.

Holds are idempotent on `hold_id` (the caller's payment id): the hold row is inserted
before any money is reserved, so a concurrent retry waits on it and then replays it.
Outcomes that must be stored even though the caller gets an error (a hold that failed for
insufficient funds, a hold found expired at capture) are committed first and raised after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from paykit import MoneyError, ProblemError, parse_amount_minor
from prometheus_client import Counter

from . import domain, store
from .domain import EXPIRED, FAILED, INSUFFICIENT_FUNDS, PENDING, POSTED, VOIDED, Hold, HoldRequest

HOLDS_TOTAL = Counter("ledger_holds_total", "Hold outcomes in the ledger", ["outcome"])
FUNDING_PREFIX = "SYS-FUNDING-"
SETTLEMENT_PREFIX = "SYS-SETTLEMENT-"


async def _now(conn: store.Conn, now: datetime | None) -> datetime:
    """The database's clock: every instance of every service shares it, so a hold's expiry
    does not depend on which host's clock placed, captured or swept it. `now` is for tests."""
    return now or await store.db_now(conn)


@dataclass(frozen=True, slots=True)
class HoldResult:
    hold: Hold
    fresh: bool  # False when this call replayed an earlier outcome


# --- Reading ----------------------------------------------------------------------------


async def get_customer(pool: asyncpg.Pool, customer_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_customer(conn, customer_id)
    if row is None:
        raise ProblemError(404, "CUSTOMER_NOT_FOUND", "No customer with this id")
    return row


async def list_customers(pool: asyncpg.Pool, after: str, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await store.list_customers(conn, after, limit)


async def get_account(pool: asyncpg.Pool, account_number: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_account(conn, account_number)
    if row is None or row["account_type"] == "SYSTEM":
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", "No account with this number")
    return row


async def payment_parties(
    pool: asyncpg.Pool, from_account: str | None, to_account: str | None
) -> dict[str, asyncpg.Record]:
    """The payer and payee accounts found, by role ("payer", "payee"); a missing or system
    account is left out, so the caller answers its own not-found."""
    async with pool.acquire() as conn:
        rows = await store.payment_parties(conn, from_account, to_account)
    return {row["role"]: row for row in rows}


async def account_entries(
    pool: asyncpg.Pool, account_number: str, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """A statement page, newest first; the cursor is the last posting id of the previous page."""
    before: int | None = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise ProblemError(422, "INVALID_CURSOR", "The cursor is not one this API returned")
        before = int(cursor)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        account = await store.get_account(conn, account_number)
        if account is None or account["account_type"] == "SYSTEM":
            raise ProblemError(404, "ACCOUNT_NOT_FOUND", "No account with this number")
        rows = await store.statement(conn, account_number, before, limit + 1)
    page = rows[:limit]
    next_cursor = str(page[-1]["posting_id"]) if len(rows) > limit else None
    return page, next_cursor


async def get_hold(pool: asyncpg.Pool, hold_id: str) -> Hold:
    async with pool.acquire() as conn:
        hold = await store.get_hold(conn, hold_id)
    if hold is None:
        raise ProblemError(404, "HOLD_NOT_FOUND", "No hold with this id")
    return hold


async def validate_account(
    pool: asyncpg.Pool, account_number: str, customer_id: str | None, required_amount: Any
) -> dict[str, Any]:
    """The seed's check: exists, owned by the customer, and the AVAILABLE balance covers the amount."""
    async with pool.acquire() as conn:
        account = await store.get_account(conn, account_number)
    if account is None or account["account_type"] == "SYSTEM":
        return {"valid": False, "reason": "ACCOUNT_NOT_FOUND"}
    if customer_id is not None and account["customer_id"] != customer_id:
        return {"valid": False, "reason": "ACCOUNT_OWNERSHIP_MISMATCH"}
    result: dict[str, Any] = {"valid": True, "account": account}
    if required_amount is not None:
        required_minor = _parse(required_amount, account["currency"])
        result["required_minor"] = required_minor
        if account["available_minor"] < required_minor:
            result.update(valid=False, reason=INSUFFICIENT_FUNDS)
    return result


def _parse(value: Any, currency: str) -> int:
    try:
        return parse_amount_minor(value, currency)
    except MoneyError as exc:
        raise ProblemError(422, exc.code, str(exc)) from None


# --- Holds ------------------------------------------------------------------------------


async def place_hold(pool: asyncpg.Pool, request: HoldRequest, now: datetime | None = None) -> HoldResult:
    """Reserve funds under the caller's id. A FAILED hold is stored and returned, not raised.
    Placing it again replays it; a retry may lengthen a pending hold, never shorten it; a hold
    whose time ran out (or that was released) is refused, never replayed as held."""
    placed = await _place_new(pool, request, now)
    if placed is not None:
        HOLDS_TOTAL.labels("placed").inc()
        return HoldResult(placed, fresh=True)
    async with pool.acquire() as conn, conn.transaction():
        at, existing = await _clock_and_hold(conn, request.hold_id, now)
        expires_at = domain.hold_expiry(at, request.expires_in_s)
        if existing is not None:
            replayed = await _replay(conn, existing, request, at, expires_at)
        else:
            await _check_hold_accounts(conn, request)
            hold = await store.insert_pending_hold(conn, request, expires_at)
            if hold is None:  # the same id committed concurrently: it is the first outcome
                existing = await store.get_hold(conn, request.hold_id, for_update=True)
                assert existing is not None
                replayed = await _replay(conn, existing, request, at, expires_at)
            else:
                if not await store.reserve(conn, request.account_number, request.amount_minor):
                    hold = await store.resolve_hold(
                        conn, hold.hold_id, FAILED, at, failure_code=INSUFFICIENT_FUNDS
                    )
                replayed = HoldResult(hold, fresh=True)
    if replayed.hold.status in (EXPIRED, VOIDED):
        raise _already_resolved(replayed.hold)  # after the commit: an expiry found here is kept
    if replayed.fresh:
        HOLDS_TOTAL.labels("placed" if replayed.hold.status == PENDING else "insufficient_funds").inc()
    return replayed


async def _place_new(pool: asyncpg.Pool, request: HoldRequest, now: datetime | None) -> Hold | None:
    """Nearly every hold is a new id on good accounts with the money there: one statement
    instead of a six-round-trip transaction. None when anything else may apply (a known id,
    a refusal, insufficient funds), for `place_hold`'s transaction to answer."""
    if request.expires_in_s <= 0 or request.amount_minor <= 0:
        return None  # refused by the full path, with its own errors
    try:
        async with pool.acquire() as conn:
            return await store.place_new_hold(conn, request, now)
    except asyncpg.UniqueViolationError:
        return None  # the same id committed concurrently: the full path replays it


async def _replay(
    conn: store.Conn, existing: Hold, request: HoldRequest, at: datetime, expires_at: datetime
) -> HoldResult:
    conflicts = domain.hold_conflicts(existing, request)
    if conflicts:
        raise ProblemError(
            409,
            "HOLD_ID_CONFLICT",
            f"Hold {request.hold_id} was placed with other {', '.join(conflicts)}",
            fields=conflicts,
        )
    if existing.status == PENDING and existing.expires_at <= at:
        await store.lock_accounts(conn, [existing.account_number])
        return HoldResult(await _expire(conn, existing, at), fresh=False)
    return HoldResult(existing, fresh=False)


async def extend_hold(
    pool: asyncpg.Pool, hold_id: str, expires_in_s: int, now: datetime | None = None
) -> HoldResult:
    """Lengthen a pending hold (never shorten it): a payment that waited on its customer with
    a short hold gets the bank's long window once it is on its way to the bank."""
    async with pool.acquire() as conn, conn.transaction():
        at, found = await _clock_and_hold(conn, hold_id, now)
        hold = _found(found)
        if hold.status == PENDING and hold.expires_at <= at:
            await store.lock_accounts(conn, [hold.account_number])
            hold = await _expire(conn, hold, at)
        elif hold.status == PENDING:
            hold = await store.extend_hold(conn, hold_id, domain.hold_expiry(at, expires_in_s))
    if hold.status in (EXPIRED, VOIDED):
        raise _already_resolved(hold)
    return HoldResult(hold, fresh=False)


async def _check_hold_accounts(conn: store.Conn, request: HoldRequest) -> None:
    found = await store.get_accounts(conn, [request.account_number, request.to_account])
    payer, payee = found.get(request.account_number), found.get(request.to_account)
    if payer is None or payer["account_type"] == "SYSTEM":
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", "The account to hold funds on does not exist")
    if payee is None:
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", "The payee account does not exist")
    if request.to_account == request.account_number:
        raise ProblemError(422, "SAME_ACCOUNT", "Payer and payee must be different accounts")
    if request.customer_id is not None and payer["customer_id"] != request.customer_id:
        raise ProblemError(403, "ACCOUNT_OWNERSHIP_MISMATCH", "The account does not belong to this customer")
    if request.currency != payer["currency"] or request.currency != payee["currency"]:
        raise ProblemError(422, "CURRENCY_MISMATCH", "Both accounts must be held in the hold's currency")
    if payer["status"] != "ACTIVE" or payee["status"] == "CLOSED":
        raise ProblemError(422, "ACCOUNT_NOT_ACTIVE", "The account cannot move money")


async def reserve_funds(pool: asyncpg.Pool, request: HoldRequest, now: datetime | None = None) -> HoldResult:
    """The seed's reserve-funds: a hold whose payee is the currency's settlement account."""
    async with pool.acquire() as conn:
        await store.ensure_system_account(conn, request.to_account, request.currency)
    return await place_hold(pool, request, now)


async def capture_hold(
    pool: asyncpg.Pool, hold_id: str, amount_minor: int | None, now: datetime | None = None
) -> HoldResult:
    """Post the hold (or part of it, releasing the rest). The first outcome is final."""
    if now is None:
        async with pool.acquire() as conn:
            posted = await store.capture_pending_hold(conn, hold_id, amount_minor)
        if posted is not None:
            HOLDS_TOTAL.labels("captured").inc()
            return HoldResult(posted, fresh=True)
    async with pool.acquire() as conn, conn.transaction():
        # A pending hold's two accounts are locked with it, in the one global order, before
        # any row moves, and its amount is released from the payer's held amount (before the
        # debit, so available never dips below zero between them): both ways on, posting and
        # expiring, start with that release; a refusal below rolls it back.
        clock, found = await store.lock_and_release_hold(conn, hold_id)
        at = now or clock
        hold = _found(found)
        if hold.status == POSTED:
            return HoldResult(hold, fresh=False)
        if hold.status != PENDING:
            raise _already_resolved(hold)
        if hold.expires_at <= at:
            domain.check_transition(hold.status, EXPIRED)
            hold = await store.resolve_hold(conn, hold.hold_id, EXPIRED, at)
        else:
            captured = domain.capture_amount(hold, amount_minor)
            domain.check_transition(hold.status, POSTED)
            hold = await store.post_capture(conn, hold, captured, domain.capture_postings(hold, captured), at)
    if hold.status == EXPIRED:
        HOLDS_TOTAL.labels("expired").inc()
        raise _already_resolved(hold)
    HOLDS_TOTAL.labels("captured").inc()
    return HoldResult(hold, fresh=True)


async def release_hold(pool: asyncpg.Pool, hold_id: str, now: datetime | None = None) -> HoldResult:
    """Void a pending hold. Releasing a hold that no longer holds money changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        at, found = await _clock_and_hold(conn, hold_id, now)
        hold = _found(found)
        if hold.status == POSTED:
            raise _already_resolved(hold)
        if hold.status != PENDING:
            return HoldResult(hold, fresh=False)
        domain.check_transition(hold.status, VOIDED)
        await store.unreserve(conn, hold.account_number, hold.amount_minor)
        hold = await store.resolve_hold(conn, hold_id, VOIDED, at)
    HOLDS_TOTAL.labels("released").inc()
    return HoldResult(hold, fresh=True)


async def expire_holds(pool: asyncpg.Pool, now: datetime | None = None, batch_size_max: int = 100) -> int:
    """The sweeper's step: expire up to `batch_size_max` pending holds past their expiry."""
    async with pool.acquire() as conn, conn.transaction():
        at = await _now(conn, now)
        holds = await store.lock_expired_holds(conn, at, batch_size_max)
        await store.lock_accounts(conn, [hold.account_number for hold in holds])
        for hold in holds:
            await _expire(conn, hold, at)
    if holds:
        HOLDS_TOTAL.labels("expired").inc(len(holds))
    return len(holds)


async def _clock_and_hold(
    conn: store.Conn, hold_id: str, now: datetime | None
) -> tuple[datetime, Hold | None]:
    """The database's clock (see `_now`) and the hold, locked: one round trip."""
    clock, hold = await store.clock_and_locked_hold(conn, hold_id)
    return now or clock, hold


def _found(hold: Hold | None) -> Hold:
    if hold is None:
        raise ProblemError(404, "HOLD_NOT_FOUND", "No hold with this id")
    return hold


async def _expire(conn: store.Conn, hold: Hold, at: datetime) -> Hold:
    domain.check_transition(hold.status, EXPIRED)
    await store.unreserve(conn, hold.account_number, hold.amount_minor)
    return await store.resolve_hold(conn, hold.hold_id, EXPIRED, at)


_RESOLVED_CODES = {EXPIRED: "HOLD_EXPIRED", VOIDED: "HOLD_RELEASED"}


def _already_resolved(hold: Hold) -> ProblemError:
    """An expired or released hold reserves nothing: it can never be captured (or placed
    again), and the caller learns which of the two it is from a stable code."""
    return ProblemError(
        409,
        _RESOLVED_CODES.get(hold.status, "HOLD_ALREADY_RESOLVED"),
        f"The hold is already {hold.status}",
        hold_status=hold.status,
        hold_id=hold.hold_id,
    )


# --- Opening accounts (operations and tests; the dev seed does the same in SQL) -----------


async def open_account(
    pool: asyncpg.Pool,
    customer: dict[str, str | None],
    account_number: str,
    currency: str,
    opening_minor: int,
) -> None:
    """Customer + account + an opening balance as a funding entry, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_customer(conn, customer)
        customer_id = str(customer["customer_id"])
        if not await store.insert_account(conn, account_number, customer_id, currency):
            raise ProblemError(409, "ACCOUNT_EXISTS", "An account with this number exists")
        if opening_minor > 0:
            funding = FUNDING_PREFIX + currency
            await store.ensure_system_account(conn, funding, currency)
            await store.insert_entry(
                conn,
                "FUNDING",
                [(funding, -opening_minor), (account_number, opening_minor)],
                currency,
                description="Opening balance",
            )


async def integrity_problems(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await store.integrity_problems(conn)
