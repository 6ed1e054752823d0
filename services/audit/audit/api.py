"""HTTP routes of the audit service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from paykit import ProblemError
from paykit.identity import allow
from paykit.openapi import problems

from . import usecases
from .schemas import AuditEvent, AuditEventsResponse, CheckpointOut, VerifyResponse

router = APIRouter(tags=["audit"], dependencies=[allow("ops")])
Filter = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/audit/events", response_model=AuditEventsResponse)
async def audit_events(
    request: Request,
    transaction_id: Filter = None,
    customer_id: Filter = None,
    event_type: Filter = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=usecases.EVENTS_LIMIT_MAX)] = 50,
) -> AuditEventsResponse:
    """Entries in the order they were recorded (oldest first), filtered, one page at a time."""
    rows = await usecases.find_events(
        request.app.state.resources.require_pool(),
        transaction_id=transaction_id,
        customer_id=customer_id,
        event_type=event_type,
        after_id=after_id,
        limit=limit,
    )
    next_after_id = rows[-1].entry.id if len(rows) == limit else None
    return AuditEventsResponse(events=[AuditEvent.of(r) for r in rows], next_after_id=next_after_id)


@router.get("/audit/verify", response_model=VerifyResponse, response_model_exclude_none=True)
async def audit_verify(request: Request) -> VerifyResponse:
    """Recompute the hash chain over the whole log; the first entry that does not fit is named."""
    settings = request.app.state.settings
    check = await usecases.verify_chain(
        request.app.state.resources.require_pool(),
        settings.audit_verify_batch_size,
        settings.audit_checkpoint_key,
    )
    return VerifyResponse(
        valid=check.valid, checked=check.checked, first_broken_id=check.first_broken_id, reason=check.reason
    )


@router.post("/audit/checkpoints", response_model=CheckpointOut, status_code=201, responses=problems(409))
async def audit_checkpoint(request: Request) -> CheckpointOut:
    """Sign the chain's current head now (also done every AUDIT_CHECKPOINT_EVERY entries)."""
    key = request.app.state.settings.audit_checkpoint_key
    checkpoint = await usecases.checkpoint_now(request.app.state.resources.require_pool(), key)
    if checkpoint is None:
        raise ProblemError(409, "AUDIT_LOG_EMPTY", "There is no entry to checkpoint yet")
    return CheckpointOut(
        head_id=checkpoint.head_id, head_hash=checkpoint.head_hash, signature=checkpoint.signature
    )
