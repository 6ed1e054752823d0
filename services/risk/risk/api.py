"""HTTP routes of the risk service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from paykit.identity import allow

from . import usecases
from .clients import Parties
from .schemas import AssessmentList, AssessmentOut, AssessRiskRequest

router = APIRouter()


def _service(request: Request) -> usecases.RiskService:
    service: usecases.RiskService = request.app.state.risk
    return service


@router.post("/assess-risk", response_model=AssessmentOut, tags=["risk"], dependencies=[allow("confirm")])
async def assess_risk(body: AssessRiskRequest, request: Request) -> dict[str, Any]:
    """Decide ALLOW / CHALLENGE / REVIEW / DENY for a payment, with reasons; stored append-only."""
    service = _service(request)
    payment = usecases.PaymentToAssess(
        transaction_id=body.transaction_id,
        customer_id=body.customer_id,
        amount=body.money(service.rules.currencies),
        from_account=body.from_account,
        to_account=body.to_account,
        payee_name=body.payee_name,
        parties=None if body.parties is None else Parties.model_validate(body.parties.model_dump()),
    )
    return await usecases.assess_risk(service, payment)


@router.get("/assessments", response_model=AssessmentList, tags=["risk"], dependencies=[allow("ops")])
async def list_assessments(
    request: Request,
    transaction_id: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=usecases.LIST_LIMIT_MAX)] = 20,
) -> dict[str, Any]:
    """Every assessment of a transaction, newest first (for an operator reviewing a payment)."""
    rows = await usecases.list_assessments(_service(request), transaction_id, limit)
    return {"assessments": rows}
