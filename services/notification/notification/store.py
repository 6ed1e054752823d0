"""Every SQL statement of the notification service."""

from __future__ import annotations

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


async def insert_notification(
    conn: asyncpg.Connection,
    *,
    customer_id: str,
    kind: str,
    channel: str,
    recipient: str | None,
    subject: str,
    body: str,
    sent: bool,
    provider_message_id: str | None,
    error: str | None,
    source_event_id: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO notifications (customer_id, type, channel, recipient, subject, body, status,
                                      provider_message_id, error, source_event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (source_event_id, channel) WHERE source_event_id IS NOT NULL DO NOTHING""",
        customer_id,
        kind,
        channel,
        recipient,
        subject,
        body,
        "SENT" if sent else "FAILED",
        provider_message_id,
        error,
        source_event_id,
    )


async def event_already_notified(conn: asyncpg.Connection, event_id: str) -> bool:
    sql = "SELECT EXISTS (SELECT 1 FROM notifications WHERE source_event_id = $1)"
    return bool(await conn.fetchval(sql, event_id))


async def notifications_for_customer(
    conn: asyncpg.Connection, customer_id: str, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM notifications WHERE customer_id = $1 ORDER BY id DESC LIMIT $2", customer_id, limit
    )
    return [dict(row) for row in rows]
