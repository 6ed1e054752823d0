"""The audit consumer records a fetched batch of events in one go, and a poisoned event in it
costs only itself: it is dead-lettered, the rest are recorded once, the chain stays whole."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
from audit.events import AuditHandlers
from audit.main import AuditSettings, create_app
from audit.usecases import CheckpointPolicy
from paykit.events import CloudEvent, RedisStreamsTransport, dead_letter_topic, new_event
from paykit.testing import CountingConnection, running_app

from .test_audit_log import payment_event, verify


async def _audit_log(client: httpx.AsyncClient, count: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for _ in range(200):
        events = (await client.get("/audit/events")).json()["events"]
        if len(events) >= count:
            break
        await asyncio.sleep(0.05)
    return events


async def test_a_poisoned_event_is_dead_lettered_and_the_rest_of_its_batch_recorded_once(
    database_url: str, redis_url: str
) -> None:
    settings = AuditSettings(
        app_env="test", postgres_url=database_url, redis_url=redis_url, events_poll_interval_ms=50
    )
    good = [payment_event(f"TXN_P{i}", "completed") for i in range(6)]
    # JSONB refuses a NUL character: this event can never be stored.
    poisoned = new_event(
        source="confirm", type="payment.completed", subject="pay_x", data={"note": "a\u0000b"}
    )
    batch = [*good[:3], poisoned, *good[3:], good[1]]  # and one event delivered twice
    publisher = RedisStreamsTransport.from_url(redis_url)
    try:
        for event in batch:  # published before the consumer starts: one batch
            await publisher.publish("payment-events", event.subject or "", event.to_json(), {})
        async with running_app(create_app(settings)) as client:
            events = await _audit_log(client, len(good))
            dead = await publisher.fetch(
                dead_letter_topic("payment-events", "audit"), "inspector", batch_size_max=10, wait_ms=2000
            )
            await asyncio.sleep(0.3)
            events = (await client.get("/audit/events")).json()["events"]
            assert [e["event_id"] for e in events] == [e.id for e in good]
            assert [CloudEvent.from_json(d.value).id for d in dead] == [poisoned.id]
            assert await verify(client) == {"valid": True, "checked": len(good)}
    finally:
        await publisher.aclose()


async def _statements_to_record(db: asyncpg.Connection, events: list[CloudEvent]) -> int:
    counting = CountingConnection(db)
    async with db.transaction():
        await AuditHandlers(CheckpointPolicy(every=5)).handle_payment_events(counting, events)  # type: ignore[arg-type]
    return counting.statements


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    small = await _statements_to_record(db, [payment_event(f"TXN_S{i}", "completed") for i in range(2)])
    # 20 more entries cross four checkpoint positions (every 5): still the same statements.
    large = await _statements_to_record(db, [payment_event(f"TXN_L{i}", "completed") for i in range(20)])
    assert large == small
    assert await verify(client) == {"valid": True, "checked": 22}
    heads = await db.fetch("SELECT head_id FROM audit_checkpoints ORDER BY id")
    assert [r["head_id"] for r in heads] == [5, 10, 15, 20]
