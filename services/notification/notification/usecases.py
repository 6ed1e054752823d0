"""Notification use cases: send a notification now; read the dev inbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from paykit.errors import ProblemError
from prometheus_client import Counter

from . import domain, store
from .channels import Channel, Delivery
from .clients import AccountClient
from .domain import ChannelName, NotificationType, Outgoing

NOTIFICATIONS_SENT = Counter(
    "notifications_sent_total", "Notifications delivered, by channel and type", ["channel", "type"]
)
DEV_INBOX_LIMIT_MAX = 200


@dataclass(frozen=True, slots=True)
class Deps:
    pool: asyncpg.Pool
    account: AccountClient
    channels: Mapping[ChannelName, Channel]


@dataclass(frozen=True, slots=True)
class Sent:
    message: Outgoing
    delivery: Delivery


async def compose(
    account: AccountClient,
    customer_id: str,
    kind: NotificationType,
    data: Mapping[str, Any],
    channels: Sequence[ChannelName] | None,
) -> list[Outgoing]:
    """The messages to send; the contact lookup is the only network call."""
    try:
        domain.render(kind, data)  # refuse bad data before asking anyone anything
    except domain.InvalidNotification as exc:
        raise ProblemError(422, "INVALID_NOTIFICATION_DATA", str(exc)) from None
    contact = await account.get_contact(customer_id)
    return domain.compose(kind, data, channels, contact)


async def dispatch(
    conn: asyncpg.Connection,
    channels: Mapping[ChannelName, Channel],
    customer_id: str,
    kind: NotificationType,
    messages: Sequence[Outgoing],
    *,
    source_event_id: str | None = None,
) -> list[Sent]:
    """Deliver each message on its channel and record every attempt."""
    sent: list[Sent] = []
    for message in messages:
        if message.recipient is None:
            delivery = Delivery(message.channel, False, error="NO_RECIPIENT")
        else:
            delivery = await channels[message.channel].deliver(conn, message)
        await store.insert_notifications(
            conn, [_record(customer_id, kind, source_event_id, message, delivery)]
        )
        if delivery.success:
            NOTIFICATIONS_SENT.labels(message.channel, kind.value).inc()
        sent.append(Sent(message, delivery))
    return sent


def _record(
    customer_id: str,
    kind: NotificationType,
    source_event_id: str | None,
    message: Outgoing,
    delivery: Delivery,
) -> store.NotificationRecord:
    return store.NotificationRecord(
        customer_id=customer_id,
        kind=kind.value,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.text.subject,
        body=message.text.redacted_body,
        sent=delivery.success,
        provider_message_id=delivery.message_id,
        error=delivery.error,
        source_event_id=source_event_id,
    )


@dataclass(frozen=True, slots=True)
class Pending:
    """The messages composed for a consumed event, not delivered yet."""

    source_event_id: str
    customer_id: str
    kind: NotificationType
    messages: list[Outgoing]


async def dispatch_many(
    conn: asyncpg.Connection, channels: Mapping[ChannelName, Channel], pending: Sequence[Pending]
) -> None:
    """Deliver the messages of consumed events and record every attempt, in the consumer's
    transaction: each channel takes its share in one go and the records are one statement,
    so a batch costs the same round trips whatever its size."""
    outgoing = [(p, message) for p in pending for message in p.messages]
    deliveries = await _deliver_all(conn, channels, [message for _, message in outgoing])
    await store.insert_notifications(
        conn,
        [
            _record(p.customer_id, p.kind, p.source_event_id, message, delivery)
            for (p, message), delivery in zip(outgoing, deliveries, strict=True)
        ],
    )
    for (p, message), delivery in zip(outgoing, deliveries, strict=True):
        if delivery.success:
            NOTIFICATIONS_SENT.labels(message.channel, p.kind.value).inc()


async def _deliver_all(
    conn: asyncpg.Connection, channels: Mapping[ChannelName, Channel], messages: Sequence[Outgoing]
) -> list[Delivery]:
    """Each message's delivery, in order; a message without a recipient is not sent."""
    found: dict[int, Delivery] = {}
    shares: list[tuple[Channel, list[int]]] = []  # by channel object, in order of first use
    for index, message in enumerate(messages):
        if message.recipient is None:
            found[index] = Delivery(message.channel, False, error="NO_RECIPIENT")
            continue
        channel = channels[message.channel]
        share = next((indices for known, indices in shares if known is channel), None)
        if share is None:
            shares.append((channel, [index]))
        else:
            share.append(index)
    for channel, indices in shares:
        delivered = await channel.deliver_many(conn, [messages[i] for i in indices])
        found.update(zip(indices, delivered, strict=True))
    return [found[index] for index in range(len(messages))]


async def send_notification(
    deps: Deps,
    customer_id: str,
    kind: NotificationType,
    data: Mapping[str, Any],
    channels: Sequence[ChannelName] | None,
) -> list[Sent]:
    messages = await compose(deps.account, customer_id, kind, data, channels)
    # No transaction around it: a provider call must not hold one open, and every
    # delivery is recorded as soon as it is known.
    async with deps.pool.acquire() as conn:
        return await dispatch(conn, deps.channels, customer_id, kind, messages)


async def read_dev_inbox(pool: asyncpg.Pool, recipient: str | None, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return await store.list_dev_messages(conn, recipient, min(limit, DEV_INBOX_LIMIT_MAX))
