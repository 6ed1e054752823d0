"""What the audit service consumes: every event on `payment-events` and `kyc-events`,
recorded once in the hash-chained log (the consumer's inbox plus the log's unique event id).
Handlers run inside the consumer's transaction; the search index is fed from the committed log
(clients.SearchIndexer), never from here, so a rolled-back entry never reaches it."""

from __future__ import annotations

import asyncpg
from paykit.events import CloudEvent

from . import usecases
from .usecases import CheckpointPolicy, IncomingEvent

PAYMENT_EVENTS_TOPIC = "payment-events"
KYC_EVENTS_TOPIC = "kyc-events"
CONSUMER_GROUP = "audit"


class AuditHandlers:
    def __init__(self, checkpoints: CheckpointPolicy | None = None) -> None:
        self.checkpoints = checkpoints or CheckpointPolicy()

    async def handle_payment_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self._record(conn, PAYMENT_EVENTS_TOPIC, event)

    async def handle_kyc_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self._record(conn, KYC_EVENTS_TOPIC, event)

    async def _record(self, conn: asyncpg.Connection, topic: str, event: CloudEvent) -> None:
        incoming = IncomingEvent(
            event_id=event.id,
            topic=topic,
            event_type=event.type,
            source=event.source,
            subject=event.subject,
            data=dict(event.data),
            event_time=event.time,
        )
        await usecases.record_event(conn, incoming, self.checkpoints)
