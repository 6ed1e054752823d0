"""payment-events and notification-events handlers, called as the consumer calls them:
inside a transaction, with a CloudEvent."""

from __future__ import annotations

import asyncpg
import httpx
from notification.events import NotificationHandlers
from paykit.events import CloudEvent
from paykit.testing import CountingConnection

from .conftest import make_event


def handlers(client: httpx.AsyncClient) -> NotificationHandlers:
    return NotificationHandlers(client.app.state.deps)  # type: ignore[attr-defined]


def payment_event(event_id: str, state: str) -> CloudEvent:
    return make_event(
        id=event_id,
        type=f"payment.{state}",
        subject="pay_1",
        data={
            "payment_id": "pay_1",
            "transaction_id": "TXN_42",
            "customer_id": "cust_001",
            "state": state.upper(),
            "previous_state": "PROCESSING",
            "amount_minor": 100_000,
            "currency": "USD",
            "from_account": "ACC001",
            "to_account": "ACC002",
        },
    )


async def messages(db: asyncpg.Connection, recipient: str) -> list[str]:
    rows = await db.fetch("SELECT body FROM dev_inbox WHERE recipient = $1 ORDER BY id", recipient)
    return [r["body"] for r in rows]


async def test_completed_payment_is_confirmed_once_per_event(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    handle = handlers(client).handle_payment_event
    event = payment_event("evt-1", "completed")
    for _ in range(2):  # a redelivery
        async with db.transaction():
            await handle(db, event)
    expected = ["Payment of 1000.00 USD confirmed. Transaction ID: TXN_42"]
    assert await messages(db, "john@example.com") == expected
    assert await messages(db, "+1234567890") == expected
    rows = await db.fetch("SELECT type, channel, source_event_id FROM notifications ORDER BY channel")
    assert [tuple(r) for r in rows] == [
        ("PAYMENT_CONFIRMED", "email", "evt-1"),
        ("PAYMENT_CONFIRMED", "sms", "evt-1"),
    ]


async def test_failed_and_declined_payments_get_a_short_notice(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    handle = handlers(client).handle_payment_event
    async with db.transaction():
        await handle(db, payment_event("evt-f", "failed"))
        await handle(db, payment_event("evt-d", "declined"))
    assert await messages(db, "+1234567890") == [
        "Payment of 1000.00 USD could not be completed. Transaction ID: TXN_42",
        "Payment of 1000.00 USD was declined. Transaction ID: TXN_42",
    ]


async def test_intermediate_states_and_unknown_customers_send_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    handle = handlers(client).handle_payment_event
    stranger = payment_event("evt-x", "completed")
    stranger.data["customer_id"] = "cust_404"
    async with db.transaction():
        await handle(db, payment_event("evt-h", "funds_held"))
        await handle(db, stranger)
    assert await db.fetchval("SELECT count(*) FROM notifications") == 0


async def test_seed_notification_events_are_delivered(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    event = make_event(
        id="evt-n",
        type="notification.requested",
        data={
            "customer_id": "cust_001",
            "type": "PAYMENT_CONFIRMED",
            "data": {"transaction_id": "TXN_7", "amount": 12.5},
        },
    )
    async with db.transaction():
        await handlers(client).handle_notification_event(db, event)
    assert await messages(db, "john@example.com") == ["Payment of 12.50 USD confirmed. Transaction ID: TXN_7"]


async def test_a_batch_is_notified_once_per_event_however_often_it_arrives(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    handle = handlers(client).handle_payment_events
    batch = [
        payment_event("evt-b1", "completed"),
        payment_event("evt-b2", "processing"),
        payment_event("evt-b3", "failed"),
        payment_event("evt-b1", "completed"),
    ]
    for _ in range(2):  # the whole batch redelivered
        async with db.transaction():
            await handle(db, batch)
    rows = await db.fetch("SELECT source_event_id, count(*) AS n FROM notifications GROUP BY 1 ORDER BY 1")
    assert [(r["source_event_id"], r["n"]) for r in rows] == [("evt-b1", 2), ("evt-b3", 2)]  # email, sms
    assert await messages(db, "+1234567890") == [
        "Payment of 1000.00 USD confirmed. Transaction ID: TXN_42",
        "Payment of 1000.00 USD could not be completed. Transaction ID: TXN_42",
    ]


async def _statements_to_notify(
    client: httpx.AsyncClient, db: asyncpg.Connection, events: list[CloudEvent]
) -> int:
    counting = CountingConnection(db)
    async with db.transaction():
        await handlers(client).handle_payment_events(counting, events)  # type: ignore[arg-type]
    return counting.statements


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    small = await _statements_to_notify(client, db, [payment_event("evt-s1", "completed")])
    large = await _statements_to_notify(
        client,
        db,
        [payment_event(f"evt-l{i}", state) for i in range(8) for state in ("processing", "completed")],
    )
    assert large == small
    rows = await db.fetch("SELECT source_event_id, count(*) AS n FROM notifications GROUP BY 1 ORDER BY 1")
    assert [(r["source_event_id"], r["n"]) for r in rows] == [
        *((f"evt-l{i}", 2) for i in range(8)),
        ("evt-s1", 2),
    ]
    assert len(await messages(db, "+1234567890")) == 9


async def test_a_batch_sends_each_message_once_with_its_own_dev_inbox_id(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    declined = make_event(
        id="evt-n2",
        type="notification.requested",
        data={"customer_id": "cust_002", "type": "PAYMENT_DECLINED", "data": {"transaction_id": "TXN_9"}},
    )
    async with db.transaction():
        await handlers(client).handle_payment_events(
            db, [payment_event("evt-c1", "completed"), payment_event("evt-c2", "failed")]
        )
        await handlers(client).handle_notification_events(db, [declined])
    rows = await db.fetch(
        """SELECT n.source_event_id, n.channel, n.status, n.error, d.body AS delivered, n.body
           FROM notifications n
           LEFT JOIN dev_inbox d ON n.provider_message_id = 'dev_' || d.channel || '_' || d.id
           ORDER BY n.id"""
    )
    failed = "Payment of 1000.00 USD could not be completed. Transaction ID: TXN_42"
    confirmed = "Payment of 1000.00 USD confirmed. Transaction ID: TXN_42"
    declined_text = "Your payment was declined. Transaction ID: TXN_9"
    assert [tuple(r) for r in rows] == [
        ("evt-c1", "email", "SENT", None, confirmed, confirmed),
        ("evt-c1", "sms", "SENT", None, confirmed, confirmed),
        ("evt-c2", "email", "SENT", None, failed, failed),
        ("evt-c2", "sms", "SENT", None, failed, failed),
        # cust_002 has no phone number: the SMS fails and nothing is delivered for it.
        ("evt-n2", "email", "SENT", None, declined_text, declined_text),
        ("evt-n2", "sms", "FAILED", "NO_RECIPIENT", None, declined_text),
    ]
