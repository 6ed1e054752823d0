"""HTTP routes of the notification service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from paykit.errors import ProblemError
from paykit.identity import Caller, allow
from paykit.openapi import problems

from . import usecases
from .schemas import (
    DeliveryResult,
    InboxMessage,
    InboxResponse,
    SendNotificationRequest,
    SendNotificationResponse,
    masked_recipient,
)

router = APIRouter(tags=["notification"])
# Mounted only outside production: how a developer or a test reads what was "sent".
dev_router = APIRouter(tags=["dev"])
# People and tests (ops) read any inbox; the gateway only the inbox of the customer it acts for.
InboxReader = Annotated[Caller, allow("ops", "gateway", principal=("gateway",))]


@router.post(
    "/send-notification",
    response_model=SendNotificationResponse,
    dependencies=[allow("otp")],
    responses=problems(400, 404, 502),
)
async def send_notification(body: SendNotificationRequest, request: Request) -> SendNotificationResponse:
    sent = await usecases.send_notification(
        request.app.state.deps, body.customer_id, body.type, body.data, body.channels
    )
    results = [
        DeliveryResult(
            channel=s.delivery.channel,
            success=s.delivery.success,
            recipient=masked_recipient(s.message.recipient),
            message_id=s.delivery.message_id,
            error=s.delivery.error,
        )
        for s in sent
    ]
    success = all(r.success for r in results)
    message = "Notifications sent successfully" if success else "Some notifications were not delivered"
    return SendNotificationResponse(success=success, results=results, message=message)


@dev_router.get("/dev/inbox", response_model=InboxResponse)
async def dev_inbox(
    request: Request,
    caller: InboxReader,
    recipient: Annotated[
        str | None, Query(min_length=1, max_length=254, description="phone, email or customer id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=usecases.DEV_INBOX_LIMIT_MAX)] = 50,
) -> InboxResponse:
    if caller.service == "gateway" and recipient != caller.subject:
        raise ProblemError(403, "INBOX_NOT_YOURS", "A customer reads only their own messages")
    rows = await usecases.read_dev_inbox(request.app.state.deps.pool, recipient, limit)
    return InboxResponse(messages=[InboxMessage(**row) for row in rows])
