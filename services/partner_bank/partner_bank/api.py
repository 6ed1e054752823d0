"""HTTP routes of the partner_bank service."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request
from paykit import MoneyError, ProblemError
from paykit.identity import allow
from paykit.openapi import problems

from . import usecases
from .domain import BankPolicy, make_fault
from .schemas import (
    REFERENCE_PATTERN,
    AccountNumber,
    BalancePage,
    BalanceView,
    CheckBalanceRequest,
    FaultRequest,
    FaultSchedule,
    FaultsCleared,
    ProcessTransferRequest,
    Reference,
    TransferPage,
    TransferView,
)

BIGINT_MAX = 2**63 - 1
router = APIRouter(tags=["bank"])
# Fault injection for tests and drills; main.py leaves it out when APP_ENV=production.
admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[allow("ops")])


# Dependencies are `async def`: FastAPI runs a plain `def` one in its thread pool, a
# thread hand-off per request for a lookup (seen in the fleet's profiles).
async def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.resources.require_pool()
    return pool


async def _policy(request: Request) -> BankPolicy:
    policy: BankPolicy = request.app.state.policy
    return policy


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
Policy = Annotated[BankPolicy, Depends(_policy)]


@router.post(
    "/process-transfer",
    response_model=TransferView,
    dependencies=[allow("confirm")],
    responses=problems(400, 409),
)
async def process_transfer(
    body: ProcessTransferRequest,
    pool: Pool,
    policy: Policy,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> TransferView:
    """Execute a transfer exactly once per `reference`; a repeat answers the first outcome.
    A refusal is a 200 with `success: false` and an `error_code`, as in the seed."""
    reference = body.reference or idempotency_key
    if not reference or not REFERENCE_PATTERN.match(reference):
        raise ProblemError(
            422,
            "REFERENCE_REQUIRED",
            "Give `reference` (or an Idempotency-Key header): a transfer executes once per reference",
        )
    try:
        command = body.to_command(reference)
    except MoneyError as exc:
        raise ProblemError(422, exc.code, str(exc)) from None
    outcome = await usecases.process_transfer(pool, policy, command)
    return TransferView.of(outcome.transfer, policy.settlement_delay_s, outcome.replayed)


@router.get(
    "/transfers/{reference}",
    response_model=TransferView,
    dependencies=[allow("confirm", "account", "ops")],
    responses=problems(404),
)
async def get_transfer(reference: Reference, pool: Pool, policy: Policy) -> TransferView:
    row = await usecases.get_transfer(pool, reference)
    return TransferView.of(row, policy.settlement_delay_s)


@router.get("/transfers", response_model=TransferPage, dependencies=[allow("account", "ops")])
async def list_transfers(
    request: Request,
    pool: Pool,
    policy: Policy,
    after_id: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> TransferPage:
    """Transfers in execution order, for reconciliation; `limit` is capped by the server."""
    page_max: int = request.app.state.settings.transfers_page_size_max
    size = min(limit or page_max, page_max)
    rows = await usecases.list_transfers(pool, after_id, size)
    views = [TransferView.of(row, policy.settlement_delay_s) for row in rows]
    return TransferPage(transfers=views, next_after_id=views[-1].id if len(views) == size else None)


@router.post(
    "/check-balance",
    response_model=BalanceView,
    dependencies=[allow("confirm", "account", "ops")],
    responses=problems(404),
)
async def check_balance(body: CheckBalanceRequest, pool: Pool) -> BalanceView:
    return BalanceView.of(await usecases.get_balance(pool, body.account_number))


@router.get("/balances", response_model=BalancePage, dependencies=[allow("account", "ops")])
async def list_balances(
    request: Request,
    pool: Pool,
    after: Annotated[str, Query(max_length=34)] = "",
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> BalancePage:
    """Every account's balance in account-number order, for reconciliation (one page per
    call instead of one call per account); `limit` is capped by the server."""
    page_max: int = request.app.state.settings.balances_page_size_max
    size = min(limit or page_max, page_max)
    views = [BalanceView.of(row) for row in await usecases.list_balances(pool, after, size)]
    return BalancePage(balances=views, next_after=views[-1].account_number if len(views) == size else None)


@router.get(
    "/accounts/{account_number}/balance",
    response_model=BalanceView,
    dependencies=[allow("account", "ops")],
    responses=problems(404),
)
async def account_balance(account_number: AccountNumber, pool: Pool) -> BalanceView:
    return BalanceView.of(await usecases.get_balance(pool, account_number))


@admin_router.post("/faults", response_model=FaultSchedule, status_code=201)
async def add_faults(body: FaultRequest, pool: Pool) -> FaultSchedule:
    """Append a fault hitting the next `count` process-transfer calls after those pending."""
    fault = make_fault(body.mode, body.count, body.latency_ms, body.error_code)
    return FaultSchedule.of(await usecases.schedule_faults(pool, [fault]))


@admin_router.get("/faults", response_model=FaultSchedule)
async def list_faults(pool: Pool) -> FaultSchedule:
    return FaultSchedule.of(await usecases.list_faults(pool))


@admin_router.delete("/faults", response_model=FaultsCleared)
async def clear_faults(pool: Pool) -> FaultsCleared:
    return FaultsCleared(cleared=await usecases.clear_faults(pool))
