"""Audit entries reach the search index only once their transaction has committed, and an
indexing failure is retried until the entry is there. The server is the wire format of the
compose stack's Elasticsearch (tools/stack/elastic.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from audit.main import AuditSettings, create_app
from paykit.events import CloudEvent
from paykit.testing import running_app

from tools.stack.elastic import ElasticsearchStub

INDEX = "audit-events"
WAIT_S = 15.0


@pytest.fixture
def elastic() -> Iterator[ElasticsearchStub]:
    stub = ElasticsearchStub().start()
    try:
        yield stub
    finally:
        stub.stop()


def _event(txn: str) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="confirm",
        type="payment.completed",
        subject=txn,
        time=datetime.now(UTC),
        data={"transaction_id": txn, "customer_id": "cust_001", "amount_minor": 100},
    )


async def _indexed(elastic: ElasticsearchStub, event_id: str, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if event_id in elastic.documents.get(INDEX, {}):
            return True
        await asyncio.sleep(0.05)
    return False


def _settings(settings: AuditSettings, elastic: ElasticsearchStub) -> AuditSettings:
    return settings.model_copy(
        update={
            "elasticsearch_url": elastic.url,
            "elasticsearch_index": INDEX,
            "elasticsearch_poll_interval_ms": 50,
        }
    )


async def test_an_entry_whose_transaction_rolls_back_never_reaches_the_index(
    settings: AuditSettings, elastic: ElasticsearchStub, database_url: str
) -> None:
    app = create_app(_settings(settings, elastic))
    async with running_app(app):
        handlers = app.state.handlers
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
        try:
            rolled_back = _event("txn_rolled_back")
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await handlers.handle_payment_event(conn, rolled_back)
                    raise RuntimeError("the consumer's transaction fails after the handler")
            committed = _event("txn_committed")
            async with conn.transaction():
                await handlers.handle_payment_event(conn, committed)
        finally:
            await conn.close()
        assert await _indexed(elastic, committed.id)
        assert rolled_back.id not in elastic.documents[INDEX]
        doc = elastic.documents[INDEX][committed.id]
        assert doc["transaction_id"] == "txn_committed" and doc["event_type"] == "payment.completed"


@pytest.mark.parametrize("failure", ["unavailable", "rejected"])
async def test_a_failed_indexing_is_retried_until_the_entry_is_there(
    settings: AuditSettings, elastic: ElasticsearchStub, database_url: str, failure: str
) -> None:
    elastic.failures = [failure, failure]
    app = create_app(
        _settings(settings, elastic).model_copy(update={"elasticsearch_retry_delay_min_s": 0.05})
    )
    async with running_app(app):
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
        try:
            event = _event("txn_retried")
            async with conn.transaction():
                await app.state.handlers.handle_payment_event(conn, event)
        finally:
            await conn.close()
        assert await _indexed(elastic, event.id)
    assert not elastic.failures, "both failures were played before the entry got in"
    assert len(elastic.received) >= 3


async def test_indexing_resumes_where_it_stopped_after_a_restart(
    settings: AuditSettings, elastic: ElasticsearchStub, database_url: str
) -> None:
    """Entries recorded while the indexer was not running (or Elasticsearch was down for
    longer than any queue) are indexed when it comes back: the log is the queue."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
    no_index = create_app(settings)
    events = [_event(f"txn_{i}") for i in range(3)]
    async with running_app(no_index):
        for event in events:
            async with conn.transaction():
                await no_index.state.handlers.handle_payment_event(conn, event)
    await conn.close()
    async with running_app(create_app(_settings(settings, elastic))):
        for event in events:
            assert await _indexed(elastic, event.id)
    assert len(elastic.documents[INDEX]) == 3
