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

Handler = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
_INBOX_INSERT = """
INSERT INTO inbox (consumer_group, event_id) VALUES ($1, $2)
ON CONFLICT (consumer_group, event_id) DO NOTHING
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
        attempts_max: int = 5,
        batch_size_max: int = 50,
        poll_interval_s: float = 0.2,
        retry_backoff_max_s: float = 2.0,
        retry_budget_s: float = 120.0,
    ) -> None:
        if attempts_max < 1 or batch_size_max < 1:
            raise ValueError("attempts_max and batch_size_max must be at least 1")
        self.transport = transport
        self.topic = topic
        self.group = group
        self._pool = pool
        self._handler = handler
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
        for index, delivery in enumerate(deliveries):
            try:
                await self._process(delivery)
            except BaseException:
                await self._release(deliveries[index:])
                raise
        return len(deliveries)

    async def run_forever(self, stop: asyncio.Event) -> None:
        name = f"consumer {self.group} on {self.topic}"
        await run_until_stopped(self.run_once, stop, poll_interval_s=self.poll_interval_s, name=name)

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

    async def _dead_letter(self, delivery: Delivery, error: str, reason: str) -> None:
        await self.transport.dead_letter(self.group, delivery, error)
        DEAD_LETTERS.labels(delivery.topic, self.group, reason).inc()

    async def _handle_traced(self, delivery: Delivery, event: CloudEvent, attempt: int) -> None:
        tracer = trace.get_tracer("paykit.events")
        with tracer.start_as_current_span(
            f"{self.topic} process",
            context=propagate.extract(delivery.headers),
            kind=SpanKind.CONSUMER,
            record_exception=False,
            set_status_on_exception=False,
            attributes={
                "messaging.destination.name": self.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.operation.type": "process",
                "messaging.message.id": event.id,
                "cloudevents.event_type": event.type,
                "paykit.delivery.attempt": attempt,
            },
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
