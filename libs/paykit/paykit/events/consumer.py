"""Consuming events with an exactly-once effect on an at-least-once transport.

The handler runs in ONE transaction with the insert of the event id into the service's
`inbox`: an event already handled by this group is skipped, and a handler that fails rolls
its effects back together with the inbox row. What happens next depends on the failure
(`classify`):

    permanent   the event can never be handled (not a CloudEvent, invalid data, a 4xx
                contract refusal, PermanentEventError): to `<topic>.dlq.<group>` at once
    transient   a timeout, a 5xx, a connection or database error: retried in place with a
                growing pause (capped at `retry_backoff_max_s`) for as long as
                `retry_budget_s` allows; only a fault that outlasts the budget is
                dead-lettered, to be replayed once the cause is fixed (paykit.events.dlq)
    unknown     anything else (a bug?): retried up to `attempts_max` attempts (counting
                earlier deliveries), then dead-lettered

A failure of the database or the broker outside the handler is not the message's fault: the
batch is released, delivered again later, and no attempt is counted. Every dead letter is
counted on /metrics (`events_dead_lettered_total`).

With a `batch_handler`, a fetched batch is first handled whole: ONE transaction inserts the
inbox rows of all its events and hands the new ones to the batch handler, then ONE call
acknowledges them all (a batch costs about what one event does). A batch that cannot be
handled whole (a message that is not a CloudEvent, a handler failure) is rolled back and
handled one by one as above, so the culprit alone is retried or dead-lettered and the rest
are applied once. Nothing is acknowledged before its transaction committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import asyncpg
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter

from ..errors import ProblemError
from ..http import ServiceCallError
from ._loop import run_until_stopped
from .envelope import CloudEvent, EnvelopeError
from .transport import Delivery, Transport

log = logging.getLogger("paykit.events.consumer")
# A proxy until the service configures tracing; then it follows the configured provider.
_TRACER = trace.get_tracer("paykit.events")

Handler = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
# Handles events not seen before, in delivery order, inside the consumer's transaction.
BatchHandler = Callable[[asyncpg.Connection, Sequence[CloudEvent]], Awaitable[None]]
_INBOX_INSERT = """
INSERT INTO inbox (consumer_group, event_id) VALUES ($1, $2)
ON CONFLICT (consumer_group, event_id) DO NOTHING
"""
_INBOX_INSERT_MANY = """
INSERT INTO inbox (consumer_group, event_id) SELECT $1, unnest($2::text[])
ON CONFLICT (consumer_group, event_id) DO NOTHING
RETURNING event_id
"""
ERROR_TEXT_LENGTH_MAX = 500


DEAD_LETTERS = Counter(
    "events_dead_lettered_total",
    "Events a consumer group gave up on and sent to its dead-letter topic",
    ["topic", "group", "reason"],
)


class _HandlerFailed(Exception):
    """The handler raised; the message may be at fault (counts as an attempt)."""


class PermanentEventError(Exception):
    """A handler raises this for an event that can never be handled as it is."""


Failure = Literal["permanent", "transient", "unknown"]
# Status codes that say "not now" rather than "never".
_RETRYABLE_4XX = frozenset({408, 409, 423, 425, 429})


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, PermanentEventError | EnvelopeError):
        return "permanent"
    if isinstance(exc, ProblemError):
        return "permanent" if exc.status < 500 and exc.status not in _RETRYABLE_4XX else "transient"
    if isinstance(exc, asyncpg.DataError):
        return "permanent"  # the event's data cannot be stored as it is
    if isinstance(
        exc, ServiceCallError | asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError
    ):
        return "transient"
    return "unknown"


class EventConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        transport: Transport,
        *,
        topic: str,
        group: str,
        handler: Handler,
        batch_handler: BatchHandler | None = None,
        attempts_max: int = 5,
        batch_size_max: int = 50,
        poll_interval_s: float = 0.2,
        batch_linger_s: float = 0.0,
        retry_backoff_max_s: float = 2.0,
        retry_budget_s: float = 120.0,
    ) -> None:
        """`handler` handles one event; `batch_handler`, when given, must have the same effect
        as `handler` on each of its events in turn. After a batch smaller than
        `batch_size_max`, the consumer pauses `batch_linger_s` so the next one gathers more."""
        if attempts_max < 1 or batch_size_max < 1:
            raise ValueError("attempts_max and batch_size_max must be at least 1")
        if batch_linger_s < 0:
            raise ValueError("batch_linger_s must not be negative")
        self.transport = transport
        self.topic = topic
        self.group = group
        self._pool = pool
        self._handler = handler
        self._batch_handler = batch_handler
        self.batch_linger_s = batch_linger_s
        self._attempts_max = attempts_max
        self._batch_size_max = batch_size_max
        self.poll_interval_s = poll_interval_s
        self._retry_backoff_max_s = retry_backoff_max_s
        self._retry_budget_s = retry_budget_s

    async def run_once(self) -> int:
        """Fetch one batch (waiting up to the poll interval) and finish it; returns its size."""
        deliveries = await self.transport.fetch(
            self.topic,
            self.group,
            batch_size_max=self._batch_size_max,
            wait_ms=int(self.poll_interval_s * 1000),
        )
        one_by_one: Sequence[Delivery] = deliveries
        if self._batch_handler is not None and len(deliveries) > 1 and await self._process_batch(deliveries):
            one_by_one = ()
        for index, delivery in enumerate(one_by_one):
            try:
                await self._process(delivery)
            except BaseException:
                await self._release(one_by_one[index:])
                raise
        return len(deliveries)

    async def run_forever(self, stop: asyncio.Event) -> None:
        name = f"consumer {self.group} on {self.topic}"
        await run_until_stopped(
            self.run_once,
            stop,
            poll_interval_s=self.poll_interval_s,
            name=name,
            linger_s=self.batch_linger_s,
            batch_size_max=self._batch_size_max,
        )

    async def _release(self, deliveries: Sequence[Delivery]) -> None:
        try:
            await self.transport.release(self.group, deliveries)
        except Exception:
            log.warning("consumer %s: release failed", self.group, exc_info=True)

    async def _process(self, delivery: Delivery) -> None:
        try:
            event = CloudEvent.from_json(delivery.value)
        except EnvelopeError as exc:
            log.error("consumer %s: poison message on %s: %s", self.group, self.topic, exc)
            await self._dead_letter(delivery, str(exc), "permanent")
            return
        attempt = delivery.attempt
        first_failure: float | None = None
        while True:
            try:
                await self._handle_traced(delivery, event, attempt)
                break
            except _HandlerFailed as failure:
                cause = failure.__cause__ or failure
                kind = classify(cause)
                error = f"{type(cause).__name__}: {cause}"[:ERROR_TEXT_LENGTH_MAX]
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                if (
                    kind == "permanent"
                    or (kind == "transient" and now - first_failure >= self._retry_budget_s)
                    or (kind == "unknown" and attempt >= self._attempts_max)
                ):
                    reason = "budget" if kind == "transient" else kind
                    log.error(
                        "consumer %s: event %s dead-lettered (%s) after %d attempt(s): %s",
                        self.group, event.id, reason, attempt, error,
                    )  # fmt: skip
                    await self._dead_letter(delivery, error, reason)
                    return
                log.warning(
                    "consumer %s: event %s attempt %d failed (%s): %s",
                    self.group, event.id, attempt, kind, error,
                )  # fmt: skip
                await asyncio.sleep(min(0.05 * 2 ** min(attempt - 1, 16), self._retry_backoff_max_s))
                attempt += 1
        await self.transport.ack(self.group, delivery)

    async def _process_batch(self, deliveries: Sequence[Delivery]) -> bool:
        """Handle all `deliveries` in one transaction and acknowledge them together. False
        when they cannot be handled whole (nothing done; the caller goes one by one). A
        message that is not a CloudEvent sends the batch one by one too: it is dead-lettered
        in its turn, never acknowledged ahead of the messages before it (a Kafka commit
        covers every earlier offset)."""
        try:
            events = [CloudEvent.from_json(d.value) for d in deliveries]
        except EnvelopeError:
            return False
        try:
            await self._handle_batch_traced(deliveries, events)
        except _HandlerFailed as failure:
            cause = failure.__cause__ or failure
            log.warning(
                "consumer %s: batch of %d failed (%s: %s); handling its events one by one",
                self.group, len(events), type(cause).__name__, str(cause)[:ERROR_TEXT_LENGTH_MAX],
            )  # fmt: skip
            return False
        except BaseException:
            await self._release(deliveries)
            raise
        try:
            await self.transport.ack_many(self.group, deliveries)
        except BaseException:
            await self._release(deliveries)
            raise
        return True

    async def _handle_batch_traced(
        self, deliveries: Sequence[Delivery], events: Sequence[CloudEvent]
    ) -> None:
        """One span per event in its producer's trace, and one for the batch's transaction."""
        tracer = _TRACER
        spans = [
            tracer.start_span(
                f"{self.topic} process",
                context=propagate.extract(d.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    **self._span_attributes(e, d.attempt),
                    "messaging.batch.message_count": len(events),
                },
            )
            for d, e in zip(deliveries, events, strict=True)
        ]
        try:
            with tracer.start_as_current_span(
                f"{self.topic} process batch",
                kind=SpanKind.CONSUMER,
                links=[trace.Link(s.get_span_context()) for s in spans],
                attributes={
                    "messaging.destination.name": self.topic,
                    "messaging.consumer.group.name": self.group,
                    "messaging.batch.message_count": len(events),
                },
            ):
                await self._handle_batch(events)
        except _HandlerFailed as failure:
            cause = failure.__cause__ or failure
            for span in spans:
                span.set_status(Status(StatusCode.ERROR, type(cause).__name__))
            raise
        finally:
            for span in spans:
                span.end()

    async def _handle_batch(self, events: Sequence[CloudEvent]) -> None:
        assert self._batch_handler is not None
        ids = list(dict.fromkeys(e.id for e in events))
        async with self._pool.acquire() as conn, conn.transaction():
            fresh_ids = {r["event_id"] for r in await conn.fetch(_INBOX_INSERT_MANY, self.group, ids)}
            fresh: list[CloudEvent] = []
            for event in events:
                if event.id in fresh_ids:
                    fresh.append(event)
                    fresh_ids.discard(event.id)  # a duplicate within the batch is handled once
            if len(fresh) < len(events):
                log.info(
                    "consumer %s: %d event(s) already handled; skipped", self.group, len(events) - len(fresh)
                )
            if not fresh:
                return
            try:
                await self._batch_handler(conn, fresh)
            except Exception as exc:
                raise _HandlerFailed() from exc

    def _span_attributes(self, event: CloudEvent, attempt: int) -> dict[str, str | int]:
        return {
            "messaging.destination.name": self.topic,
            "messaging.consumer.group.name": self.group,
            "messaging.operation.type": "process",
            "messaging.message.id": event.id,
            "cloudevents.event_type": event.type,
            "paykit.delivery.attempt": attempt,
        }

    async def _dead_letter(self, delivery: Delivery, error: str, reason: str) -> None:
        await self.transport.dead_letter(self.group, delivery, error)
        DEAD_LETTERS.labels(delivery.topic, self.group, reason).inc()

    async def _handle_traced(self, delivery: Delivery, event: CloudEvent, attempt: int) -> None:
        tracer = _TRACER
        with tracer.start_as_current_span(
            f"{self.topic} process",
            context=propagate.extract(delivery.headers),
            kind=SpanKind.CONSUMER,
            record_exception=False,
            set_status_on_exception=False,
            attributes=self._span_attributes(event, attempt),
        ) as span:
            try:
                await self._handle(event)
            except _HandlerFailed as failure:
                cause = failure.__cause__ or failure
                span.record_exception(cause)
                span.set_status(Status(StatusCode.ERROR, type(cause).__name__))
                raise

    async def _handle(self, event: CloudEvent) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(_INBOX_INSERT, self.group, event.id)
            if status.endswith(" 0"):
                log.info("consumer %s: event %s already handled; skipped", self.group, event.id)
                return
            try:
                await self._handler(conn, event)
            except Exception as exc:
                raise _HandlerFailed() from exc
