"""What the audit service consumes: every event on `payment-events` and `kyc-events`,
recorded once in the hash-chained log (the consumer's inbox plus the log's unique event id),
a fetched batch at a time: one chain lock and one insert per batch.
Handlers run inside the consumer's transaction; the search index is fed from the committed log
(clients.SearchIndexer), never from here, so a rolled-back entry never reaches it."""

from __future__ import annotations

from collections.abc import Sequence

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
        await self.handle_payment_events(conn, [event])

    async def handle_kyc_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self.handle_kyc_events(conn, [event])

    async def handle_payment_events(self, conn: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
        await usecases.record_events(
            conn, [_incoming(PAYMENT_EVENTS_TOPIC, e) for e in events], self.checkpoints
        )

    async def handle_kyc_events(self, conn: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
        await usecases.record_events(conn, [_incoming(KYC_EVENTS_TOPIC, e) for e in events], self.checkpoints)


def _incoming(topic: str, event: CloudEvent) -> IncomingEvent:
    return IncomingEvent(
        event_id=event.id,
        topic=topic,
        event_type=event.type,
        source=event.source,
        subject=event.subject,
        data=dict(event.data),
        event_time=event.time,
    )
