"""HTTP routes of the kyc service."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from paykit import ProblemError, format_minor
from paykit.identity import allow
from paykit.openapi import problems

from . import usecases
from .domain import Action, Status
from .schemas import (
    CheckStatusesRequest,
    CheckStatusesResponse,
    CheckStatusRequest,
    CheckStatusResponse,
    KycRecord,
    Limits,
    ReviewQueueResponse,
    ReviewRequest,
    SanctionsHit,
    SanctionsHitRequest,
    SanctionsHitsResponse,
    Tier,
    TiersResponse,
    VerificationRequest,
)

router = APIRouter()
REVIEW_QUEUE_LIMIT_MAX = 200
CustomerId = Annotated[str, Path(min_length=1, max_length=64)]


def _limits(tier: dict[str, Any]) -> Limits:
    currency = tier["currency"]
    return Limits(
        currency=currency,
        per_payment_minor=tier["per_payment_minor"],
        daily_minor=tier["daily_minor"],
        per_payment=format_minor(tier["per_payment_minor"], currency),
        daily=format_minor(tier["daily_minor"], currency),
    )


def _record(view: usecases.StatusView) -> KycRecord:
    r = view.record
    return KycRecord(
        customer_id=r["customer_id"],
        status=Status(r["status"]),
        verified=r["status"] == Status.VERIFIED,
        tier=r["tier"],
        limits=_limits(view.tier),
        reasons=r["reasons"],
        full_name=r["full_name"],
        date_of_birth=r["date_of_birth"],
        country=r["country"],
        document_type=r["document_type"],
        document_last4=r["document_last4"],
        verification_id=r["current_verification_id"],
        reviewed_by=r["reviewed_by"],
        review_note=r["review_note"],
        version=r["version"],
        updated_at=r["updated_at"],
    )


# Routes of people holding this token, not of services: its bearer takes the place of a
# service token, so they have no service allow-list (paykit.identity).
def _require_reviewer(request: Request, authorization: str | None) -> None:
    expected: str = request.app.state.reviewer_token
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ProblemError(401, "REVIEWER_TOKEN_REQUIRED", "A valid reviewer bearer token is required")


@router.post(
    "/check-status",
    response_model=CheckStatusResponse,
    tags=["kyc"],
    dependencies=[allow("risk", "ops")],
    responses=problems(404),
)
async def check_status(body: CheckStatusRequest, request: Request) -> CheckStatusResponse:
    view = await usecases.check_status(request.app.state.resources.require_pool(), body.customer_id)
    return _status(view)


@router.post(
    "/check-statuses",
    response_model=CheckStatusesResponse,
    tags=["kyc"],
    dependencies=[allow("risk", "ops")],
)
async def check_statuses(body: CheckStatusesRequest, request: Request) -> CheckStatusesResponse:
    """/check-status for several customers (a payment's payer and payee) in one call."""
    views = await usecases.check_statuses(request.app.state.resources.require_pool(), body.customer_ids)
    return CheckStatusesResponse(statuses=[_status(view) for view in views])


def _status(view: usecases.StatusView) -> CheckStatusResponse:
    return CheckStatusResponse(
        customer_id=view.record["customer_id"],
        verified=view.record["status"] == Status.VERIFIED,
        status=Status(view.record["status"]),
        tier=view.record["tier"],
        limits=_limits(view.tier),
        reasons=list(view.record.get("reasons") or []),
    )


@router.get("/tiers", response_model=TiersResponse, tags=["kyc"], dependencies=[allow("risk", "ops")])
async def tiers(request: Request) -> TiersResponse:
    rows = await usecases.list_tiers(request.app.state.resources.require_pool())
    return TiersResponse(tiers=[Tier(tier=t["tier"], name=t["name"], limits=_limits(t)) for t in rows])


@router.get(
    "/customers/{customer_id}",
    response_model=KycRecord,
    tags=["kyc"],
    dependencies=[allow("risk", "ops")],
    responses=problems(404),
)
async def get_customer(customer_id: CustomerId, request: Request) -> KycRecord:
    return _record(await usecases.get_record(request.app.state.resources.require_pool(), customer_id))


@router.post(
    "/customers/{customer_id}/verification",
    response_model=KycRecord,
    tags=["kyc"],
    dependencies=[allow("ops")],
    responses=problems(400, 404, 409, 503),
)
async def submit_verification(
    customer_id: CustomerId, body: VerificationRequest, request: Request
) -> KycRecord:
    state = request.app.state
    view = await usecases.submit_verification(
        state.resources.require_pool(), state.ofac, state.policy, customer_id, body, state.marks
    )
    return _record(view)


@router.post(
    "/customers/{customer_id}/review/approve",
    response_model=KycRecord,
    tags=["review"],
    responses=problems(400, 401, 404, 409, 503),
)
async def approve(
    customer_id: CustomerId,
    body: ReviewRequest,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> KycRecord:
    _require_reviewer(request, authorization)
    pool = request.app.state.resources.require_pool()
    return _record(await usecases.review(pool, customer_id, Action.APPROVE, body, request.app.state.marks))


@router.post(
    "/customers/{customer_id}/review/reject",
    response_model=KycRecord,
    tags=["review"],
    responses=problems(400, 401, 404, 409, 503),
)
async def reject(
    customer_id: CustomerId,
    body: ReviewRequest,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> KycRecord:
    _require_reviewer(request, authorization)
    if body.tier is not None:
        raise ProblemError(422, "TIER_NOT_ALLOWED", "A rejection sets tier 0")
    pool = request.app.state.resources.require_pool()
    return _record(await usecases.review(pool, customer_id, Action.REJECT, body, request.app.state.marks))


@router.get("/review-queue", response_model=ReviewQueueResponse, tags=["review"], responses=problems(401))
async def review_queue(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=REVIEW_QUEUE_LIMIT_MAX)] = 50,
    authorization: Annotated[str | None, Header()] = None,
) -> ReviewQueueResponse:
    _require_reviewer(request, authorization)
    views = await usecases.review_queue(request.app.state.resources.require_pool(), limit)
    return ReviewQueueResponse(records=[_record(v) for v in views])


@router.post(
    "/customers/{customer_id}/sanctions-hits",
    response_model=KycRecord,
    tags=["review"],
    dependencies=[allow("ofac")],
    responses=problems(400, 404, 409, 503),
)
async def record_sanctions_hit(
    customer_id: CustomerId, body: SanctionsHitRequest, request: Request
) -> KycRecord:
    """Called by the ofac service's re-screening; puts the customer in the reviewer queue."""
    pool = request.app.state.resources.require_pool()
    return _record(await usecases.record_sanctions_hit(pool, customer_id, body, request.app.state.marks))


@router.get(
    "/customers/{customer_id}/sanctions-hits",
    response_model=SanctionsHitsResponse,
    tags=["review"],
    responses=problems(401),
)
async def list_sanctions_hits(
    customer_id: CustomerId,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=REVIEW_QUEUE_LIMIT_MAX)] = 50,
    authorization: Annotated[str | None, Header()] = None,
) -> SanctionsHitsResponse:
    """What re-screening found, for the reviewer deciding the case."""
    _require_reviewer(request, authorization)
    rows = await usecases.sanctions_hits(request.app.state.resources.require_pool(), customer_id, limit)
    return SanctionsHitsResponse(hits=[SanctionsHit(**r) for r in rows])
