"""Request and response bodies of the notification service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from paykit.masking import mask_account_number
from pydantic import BaseModel, ConfigDict, Field

from .domain import ChannelName, NotificationType


class SendNotificationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    type: NotificationType
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=3)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DeliveryResult(BaseModel):
    channel: ChannelName
    success: bool
    # Masked: the last three characters tell a support agent which contact was used.
    recipient: str | None = None
    message_id: str | None = None
    error: str | None = None


class SendNotificationResponse(BaseModel):
    success: bool
    results: list[DeliveryResult]
    message: str


class InboxMessage(BaseModel):
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    created_at: datetime


class InboxResponse(BaseModel):
    messages: list[InboxMessage]


def masked_recipient(recipient: str | None) -> str | None:
    return mask_account_number(recipient) if recipient else None
