"""Indexing of the audit log into Elasticsearch (for Kibana), from the log itself.

The log in Postgres is the record and the queue: an indexer reads the committed entries after
its cursor (search_index_cursor), sends them in one bulk request, and moves the cursor only when
Elasticsearch has taken them. So an entry is indexed only after its transaction committed (an
event whose consumer transaction rolled back never shows in Kibana), nothing is lost while
Elasticsearch is down or the service restarts, and a failure is retried with backoff. The
document id is the event id, so sending an entry twice is harmless.

Errors, by what happens next:
- the request fails (connection, timeout, 5xx) or an item is refused with 429/5xx: retried,
  the cursor stays;
- an item is refused for good (another 4xx, e.g. a mapping conflict): counted in
  audit_index_rejected_total, logged and skipped, so one bad document does not stop the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
from elastic_transport import TransportError
from elasticsearch import ApiError
from prometheus_client import Counter, Gauge
from tenacity import RetryCallState, wait_exponential_jitter

from . import store
from .domain import StoredEntry

log = logging.getLogger("audit.search")
INDEXED = Counter("audit_index_indexed_total", "Audit entries indexed into Elasticsearch")
INDEX_FAILURES = Counter("audit_index_failures_total", "Indexing attempts that failed and will be retried")
INDEX_REJECTED = Counter(
    "audit_index_rejected_total", "Audit entries Elasticsearch refused for good (skipped)"
)
INDEX_LAG = Gauge("audit_index_lag_entries", "Audit entries committed but not yet in the search index")
RETRYABLE_ITEM_STATUS = 429


class IndexingError(Exception):
    """Elasticsearch did not take the batch; the cursor stays and the batch is sent again."""


@dataclass(frozen=True)
class IndexLimits:
    timeout_s: float
    batch_size_max: int
    poll_interval_s: float
    retry_delay_min_s: float
    retry_delay_max_s: float


def document(stored: StoredEntry) -> dict[str, Any]:
    entry = stored.entry
    return {
        "audit_id": entry.id,
        "event_id": entry.event_id,
        "topic": entry.topic,
        "event_type": entry.event_type,
        "source": entry.source,
        "subject": entry.subject,
        "transaction_id": entry.transaction_id,
        "customer_id": entry.customer_id,
        "data": entry.data,
        "event_time": entry.event_time.isoformat() if entry.event_time else None,
        "recorded_at": entry.recorded_at.isoformat(),
        "hash": stored.hash,
    }


class SearchIndexer:
    def __init__(self, url: str, pool: asyncpg.Pool, *, index: str, limits: IndexLimits) -> None:
        from elastic_transport import HttpxAsyncHttpNode
        from elasticsearch import AsyncElasticsearch

        # httpx node: no aiohttp dependency, and it is traced like every other HTTP call.
        # No client-side retries: a failed batch is retried here, from the cursor.
        self._es = AsyncElasticsearch(
            url, node_class=HttpxAsyncHttpNode, request_timeout=limits.timeout_s, max_retries=0
        )
        self._pool = pool
        self._index = index
        self._limits = limits
        self._backoff = wait_exponential_jitter(
            multiplier=limits.retry_delay_min_s, max=limits.retry_delay_max_s, jitter=limits.retry_delay_min_s
        )

    async def index_batch(self) -> int:
        """Send the next committed entries after the cursor; return how many were taken."""
        async with self._pool.acquire() as conn:
            after = await store.index_cursor(conn, self._index)
            entries = await store.entries_after(conn, after, self._limits.batch_size_max)
            INDEX_LAG.set(await store.last_entry_id(conn) - after)
        if not entries:
            return 0
        operations: list[dict[str, Any]] = []
        for stored in entries:
            operations += [{"index": {"_index": self._index, "_id": stored.entry.event_id}}, document(stored)]
        try:
            answer = await self._es.bulk(operations=operations)
        except (ApiError, TransportError) as exc:
            raise IndexingError(type(exc).__name__) from exc
        taken = _taken_prefix(entries, answer.body.get("items", []) if answer.body.get("errors") else None)
        if taken:
            async with self._pool.acquire() as conn:
                await store.advance_index_cursor(conn, self._index, entries[taken - 1].entry.id)
            INDEXED.inc(taken)
        if taken < len(entries):
            raise IndexingError(f"Elasticsearch took {taken} of {len(entries)} entries")
        return taken

    async def run_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                taken = await self.index_batch()
            except IndexingError as exc:
                failures += 1
                INDEX_FAILURES.inc()
                # tenacity's backoff formula reads only the attempt number of the state.
                delay = self._backoff(cast(RetryCallState, SimpleNamespace(attempt_number=failures)))
                log.warning("audit index: %s; retrying in %.1fs", exc, delay)
                await _wait(stop, delay)
                continue
            failures = 0
            if taken < self._limits.batch_size_max:
                await _wait(stop, self._limits.poll_interval_s)

    async def aclose(self) -> None:
        await self._es.close()


def _taken_prefix(entries: list[StoredEntry], items: list[dict[str, Any]] | None) -> int:
    """How many leading entries are settled: indexed, or refused for good (skipped). The first
    item refused for a passing reason (429, 5xx) ends the prefix; it and the rest are resent."""
    if items is None:
        return len(entries)
    for position, item in enumerate(items):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status == RETRYABLE_ITEM_STATUS or status >= 500:
            return position
        if status >= 400:
            INDEX_REJECTED.inc()
            log.error(
                "audit entry %s refused by the index: %s",
                entries[position].entry.id,
                result.get("error", {}).get("type", status),
            )
    return len(entries)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
