"""Every SQL statement of the notification service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg


async def insert_dev_message(
    conn: asyncpg.Connection, channel: str, recipient: str, subject: str, body: str, customer_id: str | None
) -> int:
    return int(
        await conn.fetchval(
            """INSERT INTO dev_inbox (channel, recipient, subject, body, customer_id)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            channel,
            recipient,
            subject,
            body,
            customer_id,
        )
    )


@dataclass(frozen=True, slots=True)
class DevMessage:
    channel: str
    recipient: str
    subject: str
    body: str
    customer_id: str | None


# The ids are drawn in the CTE, so each one returned is the id its own row got, in the
# order the messages were given.
_INSERT_DEV_MESSAGES = """
WITH new AS (
    SELECT nextval('dev_inbox_id_seq') AS id, u.*
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
         AS u(channel, recipient, subject, body, customer_id, n)
), inserted AS (
    INSERT INTO dev_inbox (id, channel, recipient, subject, body, customer_id)
    SELECT id, channel, recipient, subject, body, customer_id FROM new ORDER BY n
)
SELECT id FROM new ORDER BY n
"""


async def insert_dev_messages(conn: asyncpg.Connection, messages: Sequence[DevMessage]) -> list[int]:
    """Insert the messages in one round trip; their ids, in order."""
    if not messages:
        return []
    rows = await conn.fetch(
        _INSERT_DEV_MESSAGES,
        [m.channel for m in messages],
        [m.recipient for m in messages],
        [m.subject for m in messages],
        [m.body for m in messages],
        [m.customer_id for m in messages],
    )
    return [int(r["id"]) for r in rows]


async def list_dev_messages(
    conn: asyncpg.Connection, recipient: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, channel, recipient, subject, body, created_at FROM dev_inbox
           WHERE $1::text IS NULL OR recipient = $1 OR customer_id = $1 ORDER BY id DESC LIMIT $2""",
        recipient,
        limit,
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    customer_id: str
    kind: str
    channel: str
    recipient: str | None
    subject: str
    body: str
    sent: bool
    provider_message_id: str | None
    error: str | None
    source_event_id: str | None


async def insert_notifications(conn: asyncpg.Connection, records: Sequence[NotificationRecord]) -> None:
    """Record the attempts in one round trip; one already recorded for its source event and
    channel (a redelivery) is skipped."""
    if not records:
        return
    await conn.execute(
        """INSERT INTO notifications (customer_id, type, channel, recipient, subject, body, status,
                                      provider_message_id, error, source_event_id)
           SELECT customer_id, type, channel, recipient, subject, body, status,
                  provider_message_id, error, source_event_id
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY
                AS u(customer_id, type, channel, recipient, subject, body, status,
                     provider_message_id, error, source_event_id, n)
           ORDER BY n
           ON CONFLICT (source_event_id, channel) WHERE source_event_id IS NOT NULL DO NOTHING""",
        [r.customer_id for r in records],
        [r.kind for r in records],
        [r.channel for r in records],
        [r.recipient for r in records],
        [r.subject for r in records],
        [r.body for r in records],
        ["SENT" if r.sent else "FAILED" for r in records],
        [r.provider_message_id for r in records],
        [r.error for r in records],
        [r.source_event_id for r in records],
    )


async def events_already_notified(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of the events have a notification recorded already."""
    rows = await conn.fetch(
        "SELECT DISTINCT source_event_id FROM notifications WHERE source_event_id = ANY($1::text[])",
        list(event_ids),
    )
    return {str(r["source_event_id"]) for r in rows}


async def notifications_for_customer(
    conn: asyncpg.Connection, customer_id: str, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM notifications WHERE customer_id = $1 ORDER BY id DESC LIMIT $2", customer_id, limit
    )
    return [dict(row) for row in rows]
