"""The notification app consumes payment-events and notification-events from the broker."""

from __future__ import annotations

import asyncio

import httpx
from notification.main import NotificationSettings, create_app
from paykit.events import RedisStreamsTransport, new_event
from paykit.testing import running_app

from .conftest import account_contract


async def test_a_completed_payment_is_notified_once_however_often_it_arrives(
    database_url: str, redis_url: str
) -> None:
    settings = NotificationSettings(
        app_env="test", postgres_url=database_url, redis_url=redis_url, events_poll_interval_ms=50
    )
    completed = new_event(
        source="confirm",
        type="payment.completed",
        subject="pay_1",
        data={"transaction_id": "TXN_5", "customer_id": "cust_001", "amount_minor": 2500, "currency": "USD"},
    )
    seed_style = new_event(
        source="confirm",
        type="notification.requested",
        data={"customer_id": "cust_001", "type": "PAYMENT_DECLINED", "data": {"transaction_id": "TXN_6"}},
    )
    publisher = RedisStreamsTransport.from_url(redis_url)
    try:
        for _ in range(2):  # at-least-once: the same event twice
            await publisher.publish("payment-events", "pay_1", completed.to_json(), {})
        await publisher.publish("notification-events", "cust_001", seed_style.to_json(), {})
        app = create_app(settings, account_transport=httpx.MockTransport(account_contract))
        async with running_app(app) as client:
            bodies: list[str] = []
            for _ in range(100):
                response = await client.get("/dev/inbox", params={"recipient": "john@example.com"})
                bodies = [m["body"] for m in response.json()["messages"]]
                if len(bodies) >= 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            response = await client.get("/dev/inbox", params={"recipient": "john@example.com"})
            bodies = sorted(m["body"] for m in response.json()["messages"])
    finally:
        await publisher.aclose()
    assert bodies == [
        "Payment of 25.00 USD confirmed. Transaction ID: TXN_5",
        "Your payment was declined. Transaction ID: TXN_6",
    ]
