"""Routes of the confirm service. The gateway authenticates the customer and names them in its
signed service token (`sub`); idempotency keys are scoped to that principal and the route.
Only the gateway may act for a customer, only its operators may review, `ops` may read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from paykit.context import IDEMPOTENCY_HEADER
from paykit.errors import ProblemError
from paykit.idempotency import IdempotencyStore, respond_idempotently, validate_key
from paykit.identity import Caller, allow
from paykit.openapi import problems
from pydantic import BaseModel, ValidationError

from . import usecases
from .domain import Terms, confirm_answer, payment_view
from .schemas import ConfirmRequest, CreatePaymentRequest, PaymentStatesRequest, ReviewRequest
from .usecases import Deps

router = APIRouter()
BodyT = TypeVar("BodyT", bound=BaseModel)


# Dependencies are `async def`: FastAPI runs a plain `def` one in its thread pool, a
# thread hand-off per request for a lookup (seen in the fleet's profiles).
async def deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


async def idempotency_store(request: Request) -> IdempotencyStore:
    return request.app.state.idempotency  # type: ignore[no-any-return]


DepsDep = Annotated[Deps, Depends(deps)]
StoreDep = Annotated[IdempotencyStore, Depends(idempotency_store)]
KeyHeader = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)]
# The customer's own routes: the gateway acting for a customer; `ops` may read.
Customer = Annotated[Caller, allow("gateway", principal=("gateway",))]
# Reads also serve account's reconciliation (payment states).
CustomerOrOps = Annotated[Caller, allow("ops", "gateway", "account", principal=("gateway",))]
OPERATOR = {"gateway": "operator"}
Operator = Annotated[Caller, allow("gateway", roles=OPERATOR)]
OperatorOrOps = Annotated[Caller, allow("ops", "gateway", roles=OPERATOR)]


def _principal(caller: Caller, customer_id: str) -> str:
    """The customer acted for; a gateway token for someone else is refused."""
    if caller.subject is not None and caller.subject != customer_id:
        raise ProblemError(403, "CUSTOMER_MISMATCH", "You can only make payments as yourself")
    return caller.subject or customer_id


def _terms(body: ConfirmRequest | CreatePaymentRequest, transaction_id: str) -> Terms:
    return Terms(
        customer_id=body.customer_id,
        transaction_id=transaction_id,
        amount_minor=body.amount_minor,
        currency=body.currency,
        from_account=body.from_account,
        to_account=body.to_account,
    )


def _fingerprint_body(terms: Terms, **extra: Any) -> dict[str, Any]:
    return {**terms.__dict__, **extra}


@router.post(
    "/payment/confirm",
    summary="Confirm a payment (creates it when the transaction id is new)",
    responses={
        202: {"description": "Accepted: the payment waits (review, processing)"},
        **problems(400, 404, 409),
    },
)
async def confirm(
    request: Request, caller: Customer, deps: DepsDep, store: StoreDep, key: KeyHeader = None
) -> Response:
    idempotency_key = validate_key(key)
    body = await _parse(request, ConfirmRequest)
    principal = _principal(caller, body.customer_id)
    terms = _terms(body, body.transaction_id)
    return await respond_idempotently(
        store,
        principal=principal,
        route="POST /payment/confirm",
        key=idempotency_key,
        request_body=_fingerprint_body(terms, otp=body.otp),
        handler=lambda: usecases.confirm_payment(deps, terms, body.otp),
        instance=request.url.path,
    )


@router.post(
    "/payments",
    status_code=201,
    summary="Create a payment (state REQUIRES_CONFIRMATION)",
    responses=problems(400, 404, 409),
)
async def create(
    request: Request, caller: Customer, deps: DepsDep, store: StoreDep, key: KeyHeader = None
) -> Response:
    idempotency_key = validate_key(key)
    body = await _parse(request, CreatePaymentRequest)
    principal = _principal(caller, body.customer_id)
    terms = _terms(body, body.transaction_id)

    async def handler() -> tuple[int, dict[str, Any]]:
        payment, created = await usecases.create_payment(deps, terms)
        return (201 if created else 200), payment_view(payment)

    return await respond_idempotently(
        store,
        principal=principal,
        route="POST /payments",
        key=idempotency_key,
        request_body=_fingerprint_body(terms),
        handler=handler,
        instance=request.url.path,
    )


@router.get("/payments/{payment_id}", summary="A payment, its state and its history", responses=problems(404))
async def get_payment(payment_id: str, caller: CustomerOrOps, deps: DepsDep) -> dict[str, Any]:
    payment, history = await usecases.get_payment(deps, payment_id, caller.subject)
    return {**payment_view(payment), "history": history, "status": confirm_answer(payment)[1]["status"]}


@router.post(
    "/payments/{payment_id}/review",
    summary="Operator decision on a payment UNDER_REVIEW",
    responses={202: {"description": "Accepted: the bank's answer is awaited"}, **problems(400, 404, 409)},
)
async def review(
    payment_id: str,
    body: ReviewRequest,
    request: Request,
    caller: Operator,
    deps: DepsDep,
    store: StoreDep,
    key: KeyHeader = None,
) -> Response:
    idempotency_key = validate_key(key)
    return await respond_idempotently(
        store,
        principal=f"operator:{body.reviewer}",
        route=f"POST /payments/{payment_id}/review",
        key=idempotency_key,
        request_body=body.model_dump(),
        handler=lambda: usecases.review_payment(deps, payment_id, body.decision == "approve", body.reviewer),
        instance=request.url.path,
    )


@router.get("/payments", summary="Payments of a customer, newest first", responses=problems(403))
async def list_payments(
    deps: DepsDep,
    customer_id: Annotated[str, Query(max_length=64)],
    caller: CustomerOrOps,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    _principal(caller, customer_id)
    payments = await usecases.list_payments(deps, customer_id, limit)
    return {"payments": [payment_view(p) for p in payments]}


@router.get(
    "/reconciliation/completed",
    summary="Ids of payments COMPLETED in (after, until], for reconciliation",
    dependencies=[allow("account", "ops")],
)
async def completed_between(
    deps: DepsDep,
    after: datetime,
    until: datetime,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> dict[str, Any]:
    return {"payment_ids": await usecases.completed_between(deps, after, until, limit)}


@router.post(
    "/reconciliation/states",
    summary="States of up to 1,000 payments at once, for reconciliation (unknown ids are left out)",
    dependencies=[allow("account", "ops")],
    responses=problems(422),
)
async def payment_states(deps: DepsDep, body: PaymentStatesRequest) -> dict[str, Any]:
    return {"states": await usecases.payment_states(deps, body.payment_ids)}


@router.get("/review-queue", summary="Payments UNDER_REVIEW, oldest first (for operators)")
async def review_queue(
    caller: OperatorOrOps, deps: DepsDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> dict[str, Any]:
    return {"payments": [payment_view(p) for p in await usecases.review_queue(deps, limit)]}


async def _parse(request: Request, model: type[BodyT]) -> BodyT:
    try:
        raw = await request.json()
    except ValueError:
        raise ProblemError(400, "INVALID_JSON", "The body must be a JSON object") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
