"""What the notification service consumes: `payment-events` (a notice on completion,
failure or decline) and the seed's `notification-events` ({customer_id, type, data}).

Handlers run inside the consumer's transaction, together with its inbox insert, so a
redelivered event is notified once. They raise on a transient fault (the consumer retries)
and skip what can never succeed (unknown customer, malformed data).

The batch handlers take a fetched batch in one transaction. They are used only when every
channel delivers inside that transaction (the dev inbox): a batch that fails is rolled back
and handled again one by one, which would send a provider's messages (SMS, email) twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from paykit.errors import ProblemError
from paykit.events import CloudEvent

from . import domain, store, usecases
from .domain import Notice

log = logging.getLogger("notification.events")
PAYMENT_EVENTS_TOPIC = "payment-events"
NOTIFICATION_EVENTS_TOPIC = "notification-events"
CONSUMER_GROUP = "notification-group"


class NotificationHandlers:
    def __init__(self, deps: usecases.Deps) -> None:
        self.deps = deps

    async def handle_payment_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self.handle_payment_events(conn, [event])

    async def handle_notification_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self.handle_notification_events(conn, [event])

    async def handle_payment_events(self, conn: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
        await self._notify(conn, [(e.id, domain.notice_for_payment_event(e.type, _data(e))) for e in events])

    async def handle_notification_events(
        self, conn: asyncpg.Connection, events: Sequence[CloudEvent]
    ) -> None:
        notices: list[tuple[str, Notice | None]] = []
        for event in events:
            notice = domain.notice_for_notification_event(event.type, _data(event))
            if notice is None:
                log.warning("notification event %s has no usable notice; skipped", event.id)
            notices.append((event.id, notice))
        await self._notify(conn, notices)

    async def _notify(self, conn: asyncpg.Connection, notices: Sequence[tuple[str, Notice | None]]) -> None:
        """Notify each event (by id) not notified before, once: one query finds those already
        notified, the contact lookups are the only network calls, and the deliveries and their
        records cost the same round trips for one event or a batch."""
        wanted = [(event_id, notice) for event_id, notice in notices if notice is not None]
        if not wanted:
            return
        done = await store.events_already_notified(conn, [event_id for event_id, _ in wanted])
        pending: list[usecases.Pending] = []
        for event_id, notice in wanted:
            if event_id in done:
                continue
            done.add(event_id)  # an event repeated in the batch is notified once
            try:
                messages = await usecases.compose(
                    self.deps.account, notice.customer_id, notice.kind, notice.data, notice.channels
                )
            except ProblemError as exc:
                if exc.status >= 500:
                    raise  # transient: let the consumer retry the event
                log.warning("event %s not notified: %s", event_id, exc.code)
                continue
            pending.append(usecases.Pending(event_id, notice.customer_id, notice.kind, messages))
        if pending:
            await usecases.dispatch_many(conn, self.deps.channels, pending)


def _data(event: CloudEvent) -> dict[str, Any]:
    return event.data if isinstance(event.data, dict) else {}
