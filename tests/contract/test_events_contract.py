"""The events contract: what every transport must guarantee to producers and consumers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from paykit.events import (
    CloudEvent,
    Delivery,
    EventConsumer,
    Message,
    OutboxRelay,
    Transport,
    TransportError,
    add_to_outbox,
    dead_letter_topic,
    new_event,
    run_in_background,
)
from paykit.service import Readiness

DRAIN_TIMEOUT_S = 90.0


class _Rollback(Exception):
    pass


async def produce(
    pool: asyncpg.Pool, topic: str, count: int, *, commit: bool = True, poison: bool = False
) -> list[CloudEvent]:
    """`count` payments and their events in ONE transaction, committed or rolled back."""
    events: list[CloudEvent] = []
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in range(count):
                payment_id = f"pay_{uuid.uuid4().hex[:10]}"
                await conn.execute("INSERT INTO payments (id) VALUES ($1)", payment_id)
                event = new_event(
                    source="contract-tests",
                    type="payment.completed",
                    subject=payment_id,
                    data={"payment_id": payment_id, "amount_minor": 1000 + i, "poison": poison},
                )
                await add_to_outbox(conn, topic=topic, key=payment_id, event=event)
                events.append(event)
            if not commit:
                raise _Rollback
    except _Rollback:
        pass
    return events


def recording_handler(group: str) -> Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]:
    async def handle(conn: asyncpg.Connection, event: CloudEvent) -> None:
        await conn.execute(
            "INSERT INTO effects (consumer_group, event_id, event_type, subject) VALUES ($1, $2, $3, $4)",
            group,
            event.id,
            event.type,
            event.subject,
        )
        if event.data.get("poison"):
            raise ValueError("this event cannot be applied")

    return handle


async def effects(pool: asyncpg.Pool, group: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT event_id, count(*) AS n FROM effects WHERE consumer_group = $1 GROUP BY event_id", group
    )
    return {r["event_id"]: r["n"] for r in rows}


async def drain_until(
    consumers: Sequence[EventConsumer],
    done: Callable[[], Awaitable[bool]],
    timeout_s: float = DRAIN_TIMEOUT_S,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await done():
        assert time.monotonic() < deadline, "events did not arrive in time"
        for consumer in consumers:
            await consumer.run_once()


def consumer_for(
    pool: asyncpg.Pool, transport: Transport, topic: str, group: str, **kw: int
) -> EventConsumer:
    handler = recording_handler(group)
    return EventConsumer(
        pool, transport, topic=topic, group=group, handler=handler, poll_interval_s=0.5, **kw
    )


async def test_events_of_a_rolled_back_transaction_are_never_delivered(pool, new_transport, topic):
    rolled_back = await produce(pool, topic, 3, commit=False)
    committed = await produce(pool, topic, 1)
    assert await OutboxRelay(pool, new_transport()).run_once() == 1
    consumer = consumer_for(pool, new_transport(), topic, "audit")

    await drain_until([consumer], lambda: _has(pool, "audit", committed))
    for _ in range(3):  # give anything else time to show up
        await consumer.run_once()

    assert await effects(pool, "audit") == {committed[0].id: 1}
    assert not {e.id for e in rolled_back} & set(await effects(pool, "audit"))
    assert await pool.fetchval("SELECT count(*) FROM payments") == 1


async def _has(pool: asyncpg.Pool, group: str, events: Sequence[CloudEvent]) -> bool:
    return {e.id for e in events} <= set(await effects(pool, group))


async def test_committed_events_reach_every_consumer_group(pool, new_transport, topic):
    events = await produce(pool, topic, 5)
    assert await OutboxRelay(pool, new_transport(), batch_size_max=2).run_once() == 2
    assert await OutboxRelay(pool, new_transport()).run_once() == 3
    groups = ["audit", "notification"]
    consumers = [consumer_for(pool, new_transport(), topic, g) for g in groups]

    await drain_until(consumers, lambda: _all_have(pool, groups, events))

    for group in groups:
        assert await effects(pool, group) == {e.id: 1 for e in events}
    rows = await pool.fetch(
        "SELECT event_id, event_type, subject FROM effects WHERE consumer_group = 'audit'"
    )
    assert {(r["event_id"], r["event_type"], r["subject"]) for r in rows} == {
        (e.id, "payment.completed", e.subject) for e in events
    }
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def _all_have(pool: asyncpg.Pool, groups: Sequence[str], events: Sequence[CloudEvent]) -> bool:
    return all([await _has(pool, g, events) for g in groups])


async def _publish_one_by_one(transport: Any, messages: Sequence[Message]) -> int:
    """Transport.publish_many by way of `transport.publish`, for the stand-ins below."""
    accepted = 0
    for m in messages:
        try:
            await transport.publish(m.topic, m.key, m.value, m.headers)
        except TransportError:
            if accepted == 0:
                raise
            break
        accepted += 1
    return accepted


class _HangsAfter:
    """A broker connection that goes dead after `count` publishes (the relay then hangs)."""

    async def publish_many(self, messages: Sequence[Message]) -> int:
        return await _publish_one_by_one(self, messages)

    def __init__(self, inner: Transport, count: int) -> None:
        self.inner = inner
        self.count = count
        self.published = asyncio.Event()

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        if self.count == 0:
            self.published.set()
            await asyncio.Event().wait()
        self.count -= 1
        await self.inner.publish(topic, key, value, headers)


class _Counting:
    """Counts what the broker delivers to a consumer, duplicates included."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.delivered: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def fetch(self, topic: str, group: str, *, batch_size_max: int, wait_ms: int) -> Sequence[Delivery]:
        batch = await self.inner.fetch(topic, group, batch_size_max=batch_size_max, wait_ms=wait_ms)
        self.delivered += [CloudEvent.from_json(d.value).id for d in batch]
        return batch


async def test_relay_killed_mid_batch_delivers_at_least_once_and_effects_apply_once(
    pool, new_transport, topic
):
    events = await produce(pool, topic, 10)
    hanging = _HangsAfter(new_transport(), 3)
    killed = asyncio.create_task(OutboxRelay(pool, hanging).run_once())  # type: ignore[arg-type]
    await asyncio.wait_for(hanging.published.wait(), 30)
    killed.cancel()
    await asyncio.gather(killed, return_exceptions=True)
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 10

    assert await OutboxRelay(pool, new_transport()).run_once() == 10
    counting = _Counting(new_transport())
    consumer = consumer_for(pool, counting, topic, "audit")  # type: ignore[arg-type]
    await drain_until([consumer], lambda: _has(pool, "audit", events))

    first_three = {e.id for e in events[:3]}
    assert sum(1 for i in counting.delivered if i in first_three) == 6  # each delivered twice
    assert await effects(pool, "audit") == {e.id: 1 for e in events}  # applied once


async def test_poison_messages_go_to_the_dead_letter_destination(pool, new_transport, topic):
    poison = await produce(pool, topic, 1, poison=True)
    healthy = await produce(pool, topic, 1)
    transport = new_transport()
    await transport.publish(topic, "junk", b"not a cloud event", {})
    assert await OutboxRelay(pool, transport).run_once() == 2
    consumer = consumer_for(pool, new_transport(), topic, "audit", attempts_max=3)

    await drain_until([consumer], lambda: _has(pool, "audit", healthy))

    assert await effects(pool, "audit") == {healthy[0].id: 1}  # the failed attempts rolled back
    dead = await _read_all(new_transport(), dead_letter_topic(topic, "audit"), expected=2)
    by_value = {d.value: d for d in dead}
    assert b"not a cloud event" in by_value
    [poisoned] = [d for d in dead if d.value != b"not a cloud event"]
    assert CloudEvent.from_json(poisoned.value).id == poison[0].id
    assert poisoned.key == poison[0].subject
    assert "this event cannot be applied" in poisoned.headers["dlq-error"]
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", poison[0].id) == 0


async def _read_all(
    transport: Transport, topic: str, *, expected: int, timeout_s: float = DRAIN_TIMEOUT_S
) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for delivery in await transport.fetch(topic, "inspector", batch_size_max=10, wait_ms=500):
            got.append(delivery)
            await transport.ack("inspector", delivery)
    return got


async def test_the_consumer_span_is_a_child_of_the_producer_trace(pool, new_transport, topic, span_exporter):
    span_exporter.clear()
    with trace.get_tracer("contract").start_as_current_span("POST /payment/confirm") as origin:
        events = await produce(pool, topic, 1)
    await OutboxRelay(pool, new_transport()).run_once()
    consumer = consumer_for(pool, new_transport(), topic, "audit")
    await drain_until([consumer], lambda: _has(pool, "audit", events))

    trace_id = origin.get_span_context().trace_id
    spans = span_exporter.get_finished_spans()
    [processed] = [s for s in spans if s.kind == SpanKind.CONSUMER and s.name == f"{topic} process"]
    assert processed.context.trace_id == trace_id
    producers = {s.context.span_id for s in spans if s.kind == SpanKind.PRODUCER}
    assert processed.parent is not None and processed.parent.span_id in producers
    assert processed.attributes["messaging.consumer.group.name"] == "audit"


async def test_background_workers_carry_events_report_ready_and_stop(pool, new_transport, topic):
    app = FastAPI()
    app.state.readiness = Readiness()
    transport = new_transport()
    relay = OutboxRelay(pool, transport, poll_interval_s=0.05)
    consumer = consumer_for(pool, transport, topic, "notification")

    async with run_in_background(relay, consumer, app=app, transport=transport, stop_timeout_s=15):
        assert await app.state.readiness.run() == {"broker": "up"}
        events = await produce(pool, topic, 3)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not await _has(pool, "notification", events):
            assert time.monotonic() < deadline, "background workers did not deliver"
            await asyncio.sleep(0.1)

    assert await effects(pool, "notification") == {e.id: 1 for e in events}
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("paykit-events-")]


class _FailsAfter:
    """A broker that refuses every publish after the first `count`."""

    async def publish_many(self, messages: Sequence[Message]) -> int:
        return await _publish_one_by_one(self, messages)

    def __init__(self, inner: Transport, count: int) -> None:
        self.inner = inner
        self.count = count

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        if self.count == 0:
            raise TransportError("broker refused")
        self.count -= 1
        await self.inner.publish(topic, key, value, headers)


async def test_a_refused_publish_leaves_the_rest_for_the_next_run(pool, new_transport, topic):
    events = await produce(pool, topic, 4)
    failing = _FailsAfter(new_transport(), 2)

    assert await OutboxRelay(pool, failing).run_once() == 2  # type: ignore[arg-type]
    unpublished = await pool.fetch("SELECT event_id FROM outbox WHERE published_at IS NULL ORDER BY id")
    assert [r["event_id"] for r in unpublished] == [e.id for e in events[2:]]
    assert await OutboxRelay(pool, new_transport()).run_once() == 2

    consumer = consumer_for(pool, new_transport(), topic, "audit")
    await drain_until([consumer], lambda: _has(pool, "audit", events))
    assert await effects(pool, "audit") == {e.id: 1 for e in events}


async def test_add_to_outbox_refuses_to_write_outside_a_transaction(pool):
    event = new_event(source="contract-tests", type="payment.completed", data={})
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await add_to_outbox(conn, topic="payment-events", key="pay_1", event=event)
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_the_relay_purges_long_published_rows_when_idle(pool: asyncpg.Pool) -> None:
    class Accepting:
        async def publish_many(self, messages: Sequence[Message]) -> int:
            return len(messages)

    async with pool.acquire() as conn, conn.transaction():
        for i in range(3):
            event = new_event(source="/test", type="t", subject=str(i), data={})
            await add_to_outbox(conn, topic="purge", key=str(i), event=event)
    relay = OutboxRelay(pool, Accepting(), published_retention_s=3600)  # type: ignore[arg-type]
    assert await relay.run_once() == 3
    await relay.run_once()  # idle, but nothing is old enough yet
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 3
    await pool.execute("UPDATE outbox SET published_at = now() - interval '2 hours'")
    relay._next_purge = 0.0  # the once-a-minute pacing is not what this test is about
    assert await relay.run_once() == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


def flaky_handler(
    group: str, failures: list[BaseException]
) -> Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]:
    """Records the effect, but first raises each of `failures` in turn (an outage)."""
    record = recording_handler(group)

    async def handle(conn: asyncpg.Connection, event: CloudEvent) -> None:
        if failures:
            raise failures.pop(0)
        await record(conn, event)

    return handle


async def test_a_transient_outage_is_retried_within_the_budget_not_dead_lettered(pool, new_transport, topic):
    """A 2-second account outage must not send a completion notice to the dead letters."""
    from paykit.http import ServiceTimeout, ServiceUnavailable

    events = await produce(pool, topic, 2)
    transport = new_transport()
    assert await OutboxRelay(pool, transport).run_once() == 2
    outage: list[BaseException] = [ServiceUnavailable("account", "answered 503")] * 4 + [
        ServiceTimeout("account", "timed out"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection lost"),
        ConnectionRefusedError("refused"),
    ]
    consumer = EventConsumer(
        pool,
        new_transport(),
        topic=topic,
        group="notification",
        handler=flaky_handler("notification", outage),
        attempts_max=3,
        poll_interval_s=0.5,
        retry_backoff_max_s=0.05,
        retry_budget_s=60,
    )
    await drain_until([consumer], lambda: _has(pool, "notification", events))
    assert await effects(pool, "notification") == {e.id: 1 for e in events}
    assert (
        await _read_all(new_transport(), dead_letter_topic(topic, "notification"), expected=1, timeout_s=2)
        == []
    )


async def test_dead_letters_are_counted_listed_and_replayed_once_the_cause_is_fixed(
    pool, new_transport, topic
):
    from paykit.errors import ProblemError
    from paykit.events import list_dead_letters, replay_dead_letters
    from prometheus_client import REGISTRY

    def dead_count(reason: str) -> float:
        labels = {"topic": topic, "group": "notification", "reason": reason}
        return REGISTRY.get_sample_value("events_dead_lettered_total", labels) or 0.0

    [event] = await produce(pool, topic, 1)
    transport = new_transport()
    assert await OutboxRelay(pool, transport).run_once() == 1
    # A 4xx contract refusal is permanent: dead-lettered at once, no retries.
    refusal: list[BaseException] = [ProblemError(422, "CUSTOMER_NOT_FOUND", "no such customer")]
    consumer = EventConsumer(
        pool, new_transport(), topic=topic, group="notification",
        handler=flaky_handler("notification", refusal), attempts_max=5, poll_interval_s=0.5,
    )  # fmt: skip
    audit = consumer_for(pool, new_transport(), topic, "audit")
    await drain_until([audit], lambda: _has(pool, "audit", [event]))
    before = dead_count("permanent")
    await drain_until([consumer], lambda: _dlq_nonempty(new_transport(), topic))
    assert dead_count("permanent") == before + 1
    assert await effects(pool, "notification") == {}

    listed = await list_dead_letters(new_transport(), topic, "notification")
    assert [CloudEvent.from_json(d.value).id for d in listed] == [event.id]
    assert "CUSTOMER_NOT_FOUND" in listed[0].error or "no such customer" in listed[0].error

    assert await replay_dead_letters(new_transport(), topic, "notification") == 1
    await drain_until([consumer, audit], lambda: _has(pool, "notification", [event]))
    assert await effects(pool, "notification") == {event.id: 1}
    assert await effects(pool, "audit") == {event.id: 1}, "the replay reached audit, which skipped it"
    assert await replay_dead_letters(new_transport(), topic, "notification") == 0, "replayed once"


async def _dlq_nonempty(transport: Transport, topic: str) -> bool:
    from paykit.events import list_dead_letters

    return bool(await list_dead_letters(transport, topic, "notification", wait_ms=100))


def recording_batch_handler(
    group: str, batch_sizes: list[int]
) -> Callable[[asyncpg.Connection, Sequence[CloudEvent]], Awaitable[None]]:
    """The recording handler applied to a whole batch; notes the size of each batch."""
    record = recording_handler(group)

    async def handle(conn: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
        batch_sizes.append(len(events))
        for event in events:
            await record(conn, event)

    return handle


def batch_consumer_for(
    pool: asyncpg.Pool, transport: Transport, topic: str, group: str, batch_sizes: list[int]
) -> EventConsumer:
    return EventConsumer(
        pool,
        transport,
        topic=topic,
        group=group,
        handler=recording_handler(group),
        batch_handler=recording_batch_handler(group, batch_sizes),
        attempts_max=2,
        batch_size_max=50,
        poll_interval_s=0.5,
        retry_backoff_max_s=0.05,
    )


async def test_a_batch_is_applied_once_and_a_redelivered_batch_changes_nothing(pool, new_transport, topic):
    events = await produce(pool, topic, 6)
    transport = new_transport()
    assert await OutboxRelay(pool, transport).run_once() == 6
    batch_sizes: list[int] = []
    consumer = batch_consumer_for(pool, new_transport(), topic, "audit", batch_sizes)
    await drain_until([consumer], lambda: _has(pool, "audit", events))
    assert max(batch_sizes) > 1, "the events were handled in batches"

    for event in events:  # the broker delivers the whole batch again
        await transport.publish(topic, event.subject or "", event.to_json(), {})
    for _ in range(4):
        await consumer.run_once()

    assert await effects(pool, "audit") == {e.id: 1 for e in events}
    assert await _read_all(new_transport(), dead_letter_topic(topic, "audit"), expected=1, timeout_s=2) == []


async def test_a_poisoned_event_in_a_batch_is_dead_lettered_and_the_rest_applied_once(
    pool, new_transport, topic
):
    healthy = await produce(pool, topic, 2)
    poison = await produce(pool, topic, 1, poison=True)
    healthy += await produce(pool, topic, 3)
    transport = new_transport()
    await transport.publish(topic, "junk", b"not a cloud event", {})
    assert await OutboxRelay(pool, transport).run_once() == 6
    consumer = batch_consumer_for(pool, new_transport(), topic, "audit", [])

    await drain_until([consumer], lambda: _has(pool, "audit", healthy))
    dead = await _read_all(new_transport(), dead_letter_topic(topic, "audit"), expected=2)

    assert await effects(pool, "audit") == {e.id: 1 for e in healthy}
    assert b"not a cloud event" in {d.value for d in dead}
    [poisoned] = [d for d in dead if d.value != b"not a cloud event"]
    assert CloudEvent.from_json(poisoned.value).id == poison[0].id
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", poison[0].id) == 0
    await consumer.run_once()
    assert await effects(pool, "audit") == {e.id: 1 for e in healthy}


async def test_an_idle_relay_publishes_what_is_committed_after_it_went_idle(pool, new_transport, topic):
    relay = OutboxRelay(pool, new_transport())
    assert await relay.run_once() == 0
    assert await relay.run_once() == 0  # idle: looks before it claims
    events = await produce(pool, topic, 3)
    await produce(pool, topic, 2, commit=False)  # rolled back: never published
    assert await relay.run_once() == 3
    assert await relay.run_once() == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    consumer = consumer_for(pool, new_transport(), topic, "audit")
    await drain_until([consumer], lambda: _has(pool, "audit", events))
    assert await effects(pool, "audit") == {e.id: 1 for e in events}
