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
        data = event.data if isinstance(event.data, dict) else {}
        await self._notify(conn, event.id, domain.notice_for_payment_event(event.type, data))

    async def handle_notification_event(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        notice = domain.notice_for_notification_event(event.type, data)
        if notice is None:
            log.warning("notification event %s has no usable notice; skipped", event.id)
        await self._notify(conn, event.id, notice)

    async def handle_payment_events(self, conn: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
        for event in events:
            await self.handle_payment_event(conn, event)

    async def handle_notification_events(
        self, conn: asyncpg.Connection, events: Sequence[CloudEvent]
    ) -> None:
        for event in events:
            await self.handle_notification_event(conn, event)

    async def _notify(self, conn: asyncpg.Connection, event_id: str, notice: Notice | None) -> None:
        if notice is None or await store.event_already_notified(conn, event_id):
            return
        try:
            messages = await usecases.compose(
                self.deps.account, notice.customer_id, notice.kind, notice.data, notice.channels
            )
        except ProblemError as exc:
            if exc.status >= 500:
                raise  # transient: let the consumer retry the event
            log.warning("event %s not notified: %s", event_id, exc.code)
            return
        await usecases.dispatch(
            conn, self.deps.channels, notice.customer_id, notice.kind, messages, source_event_id=event_id
        )
