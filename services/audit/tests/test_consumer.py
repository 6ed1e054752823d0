"""The audit app consumes payment-events and kyc-events from the broker (Redis Streams)."""

from __future__ import annotations

import asyncio

from audit.main import AuditSettings, create_app
from paykit.events import RedisStreamsTransport, new_event
from paykit.testing import running_app


async def test_published_events_land_in_the_audit_log_once(database_url: str, redis_url: str) -> None:
    settings = AuditSettings(
        app_env="test", postgres_url=database_url, redis_url=redis_url, events_poll_interval_ms=50
    )
    payment = new_event(
        source="confirm", type="payment.completed", subject="pay_1", data={"transaction_id": "TXN_9"}
    )
    kyc = new_event(source="kyc", type="kyc.verified", subject="cust_001", data={"customer_id": "cust_001"})
    publisher = RedisStreamsTransport.from_url(redis_url)
    try:
        await publisher.publish("payment-events", "pay_1", payment.to_json(), {})
        await publisher.publish("payment-events", "pay_1", payment.to_json(), {})  # redelivered
        await publisher.publish("kyc-events", "cust_001", kyc.to_json(), {})
        async with running_app(create_app(settings)) as client:
            events: list[dict[str, object]] = []
            for _ in range(100):
                events = (await client.get("/audit/events")).json()["events"]
                if len(events) >= 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            events = (await client.get("/audit/events")).json()["events"]
            assert sorted(e["event_type"] for e in events) == ["kyc.verified", "payment.completed"]
            assert (await client.get("/ready")).json()["checks"]["broker"] == "up"
    finally:
        await publisher.aclose()
