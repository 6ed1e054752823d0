"""Best-effort indexing of audit entries into Elasticsearch (for Kibana).

The consumer only offers entries to a bounded queue and never waits: when Elasticsearch is
slow or down, entries are dropped from the index (never from the audit log, which stays the
record) and counted. The document id is the event id, so re-indexing is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter

from .domain import StoredEntry

log = logging.getLogger("audit.search")
INDEX_DROPPED = Counter("audit_index_dropped_total", "Audit entries not indexed into Elasticsearch")


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
    def __init__(self, url: str, *, index: str, timeout_s: float, queue_size_max: int) -> None:
        from elastic_transport import HttpxAsyncHttpNode
        from elasticsearch import AsyncElasticsearch

        # httpx node: no aiohttp dependency, and it is traced like every other HTTP call.
        self._es = AsyncElasticsearch(url, node_class=HttpxAsyncHttpNode, request_timeout=timeout_s)
        self._index = index
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size_max)

    def offer(self, stored: StoredEntry) -> None:
        try:
            self._queue.put_nowait(document(stored))
        except asyncio.QueueFull:
            INDEX_DROPPED.inc()

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                doc = await asyncio.wait_for(self._queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            try:
                await self._es.index(index=self._index, id=doc["event_id"], document=doc)
            except Exception as exc:  # best effort: never let the index stop the service
                INDEX_DROPPED.inc()
                log.warning("audit entry %s not indexed: %s", doc["audit_id"], type(exc).__name__)

    async def aclose(self) -> None:
        await self._es.close()
