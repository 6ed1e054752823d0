"""HTTP routes of the account service: parse -> one use case -> map errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import asyncpg
from fastapi import APIRouter, Body, Path, Query, Request
from paykit import MoneyError, ProblemError, format_minor, parse_amount_minor
from paykit.failpoints import failpoint
from paykit.identity import allow
from paykit.openapi import problems

from . import reconciliation, usecases
from .domain import FAILED, HoldRequest
from .schemas import (
    AccountOut,
    CaptureIn,
    CustomerOut,
    CustomersPage,
    EntriesPage,
    EntryOut,
    ExtendIn,
    HoldIn,
    HoldOut,
    PartyOut,
    PaymentPartiesOut,
    ReconciliationReport,
    ReserveFundsIn,
    ReserveFundsOut,
    ValidateAccountIn,
    ValidateAccountOut,
)

if TYPE_CHECKING:
    from .main import AccountSettings

router = APIRouter(tags=["account"])
PathId = Annotated[str, Path(min_length=1, max_length=64)]
QueryId = Annotated[str, Query(min_length=1, max_length=64)]
# Who may call what (paykit.identity). Only confirm moves money; `ops` is people and scripts.
CONTACT_READERS = allow("risk", "notification", "ofac", "ops")
# Every customer, for ofac's re-screening when the sanctions list changes.
CUSTOMER_LISTERS = allow("ofac", "ops")
# risk reads the payee account's owner to screen them.
ACCOUNT_READERS = allow("gateway", "confirm", "risk", "ops")
# A payment's two accounts and their owners, in one call: confirm checks them before it
# creates a payment, risk screens both parties.
PARTY_READERS = allow("confirm", "risk", "ops")
STATEMENT_READERS = allow("gateway", "ops")
MONEY_MOVERS = allow("confirm")
HOLD_READERS = allow("confirm", "ops")
OPERATORS = allow("ops")


def settings_of(request: Request) -> AccountSettings:
    settings: AccountSettings = request.app.state.settings
    return settings


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.resources.require_pool()
    return pool


CUSTOMERS_PAGE_MAX = 500


@router.get("/customers", response_model=CustomersPage, dependencies=[CUSTOMER_LISTERS])
async def list_customers(
    request: Request,
    after: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=CUSTOMERS_PAGE_MAX)] = 100,
) -> CustomersPage:
    """Every customer, a page at a time (re-screening against a changed sanctions list)."""
    rows = await usecases.list_customers(_pool(request), after, limit)
    customers = [CustomerOut(**dict(row)) for row in rows]
    last = customers[-1].customer_id if len(customers) == limit else None
    return CustomersPage(customers=customers, next_after=last)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    dependencies=[CONTACT_READERS],
    responses=problems(404),
)
async def get_customer(customer_id: PathId, request: Request) -> CustomerOut:
    row = await usecases.get_customer(_pool(request), customer_id)
    return CustomerOut(**dict(row))


@router.get(
    "/account/{account_number}",
    response_model=AccountOut,
    dependencies=[ACCOUNT_READERS],
    responses=problems(404),
)
async def get_account(account_number: PathId, request: Request) -> AccountOut:
    return AccountOut.of(await usecases.get_account(_pool(request), account_number))


@router.get(
    "/payment-parties",
    response_model=PaymentPartiesOut,
    dependencies=[PARTY_READERS],
)
async def payment_parties(
    request: Request, from_account: QueryId | None = None, to_account: QueryId | None = None
) -> PaymentPartiesOut:
    """Payer and payee account (owner, currency, status) with each owner's name and country;
    either may be left out (risk screens a payee without a payer account)."""
    if from_account is None and to_account is None:
        raise ProblemError(422, "NO_ACCOUNT_GIVEN", "Give from_account, to_account or both")
    found = await usecases.payment_parties(_pool(request), from_account, to_account)
    payer, payee = found.get("payer"), found.get("payee")
    return PaymentPartiesOut(
        payer=PartyOut.of(payer) if payer is not None else None,
        payee=PartyOut.of(payee) if payee is not None else None,
    )


@router.get(
    "/account/{account_number}/entries",
    response_model=EntriesPage,
    dependencies=[STATEMENT_READERS],
    responses=problems(404),
)
async def account_entries(
    account_number: PathId,
    request: Request,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> EntriesPage:
    limit = min(limit, settings_of(request).entries_page_size_max)
    rows, next_cursor = await usecases.account_entries(_pool(request), account_number, limit, cursor)
    return EntriesPage(entries=[EntryOut.of(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/validate-account",
    response_model=ValidateAccountOut,
    response_model_exclude_none=True,
    dependencies=[ACCOUNT_READERS],
    responses=problems(404),
)
async def validate_account(body: ValidateAccountIn, request: Request) -> ValidateAccountOut:
    result = await usecases.validate_account(
        _pool(request), body.account_number, body.customer_id, body.required_amount
    )
    out = ValidateAccountOut(valid=result["valid"], reason=result.get("reason"))
    account = result.get("account")
    if account is not None:
        out.account = AccountOut.of(account)
        if not out.valid:
            out.available_balance = out.account.available_balance
            out.required_amount = format_minor(result["required_minor"], account["currency"])
    return out


def _expires_in_s(request: Request, given: int | None) -> int:
    settings = settings_of(request)
    expires_in_s = given or settings.hold_ttl_default_s
    if expires_in_s > settings.hold_ttl_max_s:
        raise ProblemError(422, "HOLD_TTL_TOO_LONG", f"A hold lasts at most {settings.hold_ttl_max_s} s")
    return expires_in_s


def _failed(out: HoldOut) -> ProblemError:
    # The same 422 on every retry of a hold that failed: the failure is its first outcome.
    return ProblemError(
        422,
        out.failure_code or "HOLD_FAILED",
        "Available balance does not cover the amount",
        hold=out.model_dump(mode="json"),
    )


@router.post(
    "/holds",
    response_model=HoldOut,
    status_code=201,
    dependencies=[MONEY_MOVERS],
    responses=problems(400, 404, 409),
)
async def place_hold(body: HoldIn, request: Request) -> HoldOut:
    hold_request = HoldRequest(
        hold_id=body.hold_id,
        account_number=body.account_number,
        to_account=body.to_account,
        amount_minor=body.amount_minor,
        currency=body.currency,
        customer_id=body.customer_id,
        expires_in_s=_expires_in_s(request, body.expires_in_s),
    )
    result = await usecases.place_hold(_pool(request), hold_request)
    failpoint("hold_committed")  # the hold is committed; its caller never hears of it
    out = HoldOut.of(result.hold)
    if result.hold.status == FAILED:
        raise _failed(out)
    return out


@router.post(
    "/holds/{hold_id}/capture",
    response_model=HoldOut,
    dependencies=[MONEY_MOVERS],
    responses=problems(400, 404, 409),
)
async def capture_hold(
    hold_id: PathId, request: Request, body: Annotated[CaptureIn | None, Body()] = None
) -> HoldOut:
    amount = body.amount_minor if body else None
    result = await usecases.capture_hold(_pool(request), hold_id, amount)
    return HoldOut.of(result.hold)


@router.post(
    "/holds/{hold_id}/extend",
    response_model=HoldOut,
    dependencies=[MONEY_MOVERS],
    responses=problems(400, 404, 409),
)
async def extend_hold(hold_id: PathId, body: ExtendIn, request: Request) -> HoldOut:
    expires_in_s = _expires_in_s(request, body.expires_in_s)
    return HoldOut.of((await usecases.extend_hold(_pool(request), hold_id, expires_in_s)).hold)


@router.post(
    "/holds/{hold_id}/release",
    response_model=HoldOut,
    dependencies=[MONEY_MOVERS],
    responses=problems(400, 404, 409),
)
async def release_hold(hold_id: PathId, request: Request) -> HoldOut:
    return HoldOut.of((await usecases.release_hold(_pool(request), hold_id)).hold)


@router.get("/holds/{hold_id}", response_model=HoldOut, dependencies=[HOLD_READERS], responses=problems(404))
async def get_hold(hold_id: PathId, request: Request) -> HoldOut:
    return HoldOut.of(await usecases.get_hold(_pool(request), hold_id))


@router.post(
    "/reserve-funds",
    response_model=ReserveFundsOut,
    status_code=201,
    dependencies=[MONEY_MOVERS],
    responses=problems(400, 404, 409),
)
async def reserve_funds(body: ReserveFundsIn, request: Request) -> ReserveFundsOut:
    """The seed's name for a hold: `transaction_id` is the hold id, `amount` a decimal."""
    try:
        amount_minor = parse_amount_minor(body.amount, body.currency)
    except MoneyError as exc:
        raise ProblemError(422, exc.code, str(exc)) from None
    hold_request = HoldRequest(
        hold_id=body.transaction_id,
        account_number=body.account_number,
        to_account=body.to_account or usecases.SETTLEMENT_PREFIX + body.currency,
        amount_minor=amount_minor,
        currency=body.currency,
        customer_id=body.customer_id,
        expires_in_s=_expires_in_s(request, body.expires_in_s),
    )
    result = await usecases.reserve_funds(_pool(request), hold_request)
    out = HoldOut.of(result.hold)
    if result.hold.status == FAILED:
        raise _failed(out)
    return ReserveFundsOut(
        **out.model_dump(), success=True, transaction_id=out.hold_id, reserved_amount=out.amount
    )


@router.get("/reconciliation/report", response_model=ReconciliationReport, dependencies=[OPERATORS])
async def reconciliation_report(request: Request) -> ReconciliationReport:
    """The latest completed run; when none has completed yet, one is run now."""
    pool = _pool(request)
    if not await reconciliation.has_completed_run(pool):
        await _reconcile_now(request)
    return ReconciliationReport(**await reconciliation.latest_report(pool))


@router.post("/reconciliation/run", response_model=ReconciliationReport, dependencies=[OPERATORS])
async def reconcile_now(request: Request) -> ReconciliationReport:
    """Compare our ledger with the bank now, and answer with this run's report."""
    await _reconcile_now(request)
    return ReconciliationReport(**await reconciliation.latest_report(_pool(request)))


async def _reconcile_now(request: Request) -> None:
    breaks = await reconciliation.run_reconciliation(
        _pool(request),
        request.app.state.bank,
        request.app.state.reconciliation_limits,
        confirm=request.app.state.confirm,
    )
    if breaks is None:
        raise ProblemError(
            503, "BANK_UNAVAILABLE", "The partner bank (or confirm) could not be read; no report was made"
        )
