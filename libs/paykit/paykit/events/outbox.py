"""The transactional outbox: events are rows written with the state change they describe,
and a relay publishes committed rows and marks them published.

Guarantees: a rolled-back transaction publishes nothing (the relay only sees committed
rows); a committed event is published at least once (a row is marked only after the broker
acknowledged it; a relay killed mid-batch leaves its rows unmarked and they go out again).
A batch of rows goes to the broker in one call (Transport.publish_many) and is marked in
one statement.
Several relays may run: `FOR UPDATE SKIP LOCKED` gives each row to one of them at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..telemetry import inject_headers
from ._loop import run_until_stopped
from .envelope import CLOUDEVENTS_CONTENT_TYPE, CloudEvent
from .transport import Message, Transport, TransportError

log = logging.getLogger("paykit.events.outbox")
# A proxy until the service configures tracing; then it follows the configured provider.
_TRACER = trace.get_tracer("paykit.events")

_INSERT = """
INSERT INTO outbox (event_id, topic, event_key, event, headers)
VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb)
"""
_CLAIM = """
SELECT id, topic, event_key, event::text AS event, headers::text AS headers
FROM outbox
WHERE published_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
# Outside a transaction: an idle relay learns there is nothing to publish in one round trip
# instead of three (BEGIN, the claim, COMMIT), several times a second in every service.
_ANY_UNPUBLISHED = "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"
_MARK = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
_PURGE = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)
"""
PUBLISHED_RETENTION_S = 7 * 24 * 3600
PURGE_INTERVAL_S = 60.0


class OutboxRow(NamedTuple):
    """The values of one outbox row, in the order of `_INSERT`'s parameters."""

    event_id: str
    topic: str
    key: str
    event: str
    headers: str


def outbox_row(*, topic: str, key: str, event: CloudEvent) -> OutboxRow:
    """`event` as an outbox row, with the current trace in its headers."""
    headers = inject_headers({"content-type": CLOUDEVENTS_CONTENT_TYPE})
    return OutboxRow(event.id, topic, key, event.to_json().decode(), json.dumps(headers))


def insert_for_each(changed: str, first: int) -> str:
    """A WITH item inserting one outbox row (parameters `first`..`first`+4, an OutboxRow) for
    each row of the WITH item `changed`: a state change and its event in one statement, with
    no event when nothing changed."""
    a, b, c, d, e = (f"${first + i}" for i in range(5))
    return f"""event AS (INSERT INTO outbox (event_id, topic, event_key, event, headers)
                 SELECT {a}, {b}, {c}, {d}::text::jsonb, {e}::text::jsonb FROM {changed})"""


async def add_to_outbox(conn: asyncpg.Connection, *, topic: str, key: str, event: CloudEvent) -> None:
    """Record `event` for publication in the caller's transaction, with the current trace."""
    if not conn.is_in_transaction():
        raise RuntimeError("add_to_outbox must run inside the transaction of the state change")
    await conn.execute(_INSERT, *outbox_row(topic=topic, key=key, event=event))


class OutboxRelay:
    """Publishes the outbox of one service's schema through `transport`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        transport: Transport,
        *,
        batch_size_max: int = 100,
        poll_interval_s: float = 0.2,
        published_retention_s: float = PUBLISHED_RETENTION_S,
    ) -> None:
        if batch_size_max < 1:
            raise ValueError("batch_size_max must be at least 1")
        self.transport = transport
        self._pool = pool
        self._batch_size_max = batch_size_max
        self.poll_interval_s = poll_interval_s
        self.published_retention_s = published_retention_s
        self._next_purge = 0.0
        self._idle = False  # the last run found nothing to publish

    async def run_once(self) -> int:
        """Publish up to one batch; returns how many rows were published and marked. After a
        run that found nothing, a cheap look outside a transaction comes first; the claim
        itself (locking, publishing, marking) is always the transaction below."""
        if self._idle and not await self._pool.fetchval(_ANY_UNPUBLISHED):
            await self._purge_when_due()
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch_size_max)
            published = await self._publish(rows) if rows else 0
            if published:
                await conn.execute(_MARK, [row["id"] for row in rows[:published]])
        self._idle = not rows
        if not rows:
            await self._purge_when_due()
        return published

    async def _purge_when_due(self) -> None:
        """When idle, at most once a minute, drop a bounded batch of long-published rows: the
        outbox is a queue, not an archive (audit keeps the history)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL_S
        await self._pool.execute(_PURGE, self.published_retention_s, self._batch_size_max * 10)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> int:
        """Publish the rows in one call; how many, from the first, the broker accepted. Each
        message carries its own publish span (in the trace of the change it records) as its
        parent."""
        tracer = _TRACER
        spans: list[trace.Span] = []
        messages: list[Message] = []
        for row in rows:
            headers: dict[str, str] = json.loads(row["headers"])
            span = tracer.start_span(
                f"{row['topic']} publish",
                context=propagate.extract(headers),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.destination.name": row["topic"],
                    "messaging.operation.type": "publish",
                },
            )
            spans.append(span)
            propagate.inject(headers, context=trace.set_span_in_context(span))
            messages.append(Message(row["topic"], row["event_key"], row["event"].encode(), headers))
        accepted = 0
        try:
            accepted = await self.transport.publish_many(messages)
        except TransportError:
            log.warning("outbox relay: publish of %d row(s) failed", len(rows), exc_info=True)
        if accepted < len(rows):
            # Keep what the broker already acknowledged; the rest waits for the next run.
            log.warning("outbox relay: %d of %d row(s) published; the rest wait", accepted, len(rows))
        for index, span in enumerate(spans):
            if index >= accepted:
                span.set_status(Status(StatusCode.ERROR, "not published"))
            span.end()
        return accepted

    async def run_forever(self, stop: asyncio.Event) -> None:
        # After a short batch the outbox is drained: the next look waits a poll interval
        # (rather than finding nothing at once, a transaction for nothing).
        await run_until_stopped(
            self.run_once,
            stop,
            poll_interval_s=self.poll_interval_s,
            name="outbox relay",
            linger_s=self.poll_interval_s,
            batch_size_max=self._batch_size_max,
        )
