"""Response bodies of the audit service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .domain import StoredEntry


class AuditEvent(BaseModel):
    id: int
    event_id: str
    topic: str
    event_type: str
    source: str
    subject: str | None
    transaction_id: str | None
    customer_id: str | None
    data: dict[str, Any]
    event_time: datetime | None
    recorded_at: datetime
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, stored: StoredEntry) -> AuditEvent:
        e = stored.entry
        return cls(
            id=e.id,
            event_id=e.event_id,
            topic=e.topic,
            event_type=e.event_type,
            source=e.source,
            subject=e.subject,
            transaction_id=e.transaction_id,
            customer_id=e.customer_id,
            data=e.data,
            event_time=e.event_time,
            recorded_at=e.recorded_at,
            prev_hash=e.prev_hash,
            hash=stored.hash,
        )


class AuditEventsResponse(BaseModel):
    events: list[AuditEvent]
    # Pass as `after_id` for the next page; null when this page was the last.
    next_after_id: int | None


class VerifyResponse(BaseModel):
    valid: bool
    checked: int
    first_broken_id: int | None = None
    # CHAIN_BROKEN, CHECKPOINT_MISMATCH (truncated or rehashed), CHECKPOINT_SIGNATURE (forged)
    reason: str | None = None


class CheckpointOut(BaseModel):
    head_id: int
    head_hash: str
    signature: str
