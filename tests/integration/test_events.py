"""What a completed payment leaves behind on the bus: one CloudEvent per state change on
Kafka, all in the trace of the request that caused them, recorded by audit and notified."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from .conftest import login, new_key, new_txn, payment_body

pytestmark = pytest.mark.integration
WAIT_S = 20


async def _payment_events(
    bootstrap: str, payment_id: str, expected: int
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    consumer = AIOKafkaConsumer(
        "payment-events",
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=10_000,
    )
    await consumer.start()
    found: list[tuple[dict[str, Any], dict[str, str]]] = []
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and len(found) < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    if record.key and record.key.decode() == payment_id:
                        headers = {k: v.decode() for k, v in record.headers}
                        found.append((json.loads(record.value), headers))
        # Anything more that arrives soon after would be a duplicate.
        extra = await consumer.getmany(timeout_ms=1000)
        for records in extra.values():
            found.extend(
                (json.loads(r.value), {k: v.decode() for k, v in r.headers})
                for r in records
                if r.key and r.key.decode() == payment_id
            )
    finally:
        await consumer.stop()
    return found


def test_every_state_change_is_one_cloudevent_in_one_trace(
    gateway: httpx.Client, services: dict[str, httpx.Client], kafka_bootstrap: str
) -> None:
    auth = login(gateway, "demo")
    body = payment_body("cust_001", "12.34", "ACC001", "ACC002")
    response = gateway.post("/payment/confirm", json=body, headers={**auth, **new_key()})
    assert response.status_code == 200, response.text
    payment = gateway.get(f"/payments/{body['transaction_id']}", headers=auth).json()
    states = [h["to"] for h in payment["history"]]
    assert states == ["REQUIRES_CONFIRMATION", "FUNDS_HELD", "PROCESSING", "COMPLETED"]

    events = asyncio.run(_payment_events(kafka_bootstrap, payment["payment_id"], len(states)))
    types = [event["type"] for event, _ in events]
    assert sorted(types) == sorted(f"payment.{s.lower()}" for s in states), types
    for event, headers in events:
        assert event["specversion"] == "1.0" and event["id"] and event["source"] and event["time"]
        assert event["subject"] == payment["payment_id"]
        assert (
            event["data"]["amount_minor"] == 1234
            and event["data"]["transaction_id"] == body["transaction_id"]
        )
        assert "traceparent" in headers
    trace_ids = {headers["traceparent"].split("-")[1] for _, headers in events}
    assert len(trace_ids) == 1, "one trace spans the HTTP calls and every event of the payment"


def test_audit_records_every_state_change_and_the_customer_is_notified(
    gateway: httpx.Client, services: dict[str, httpx.Client]
) -> None:
    auth = login(gateway, "demo")
    txn = new_txn()
    body = {
        "transaction_id": txn,
        "customer_id": "cust_001",
        "amount": "1.50",
        "from_account": "ACC001",
        "to_account": "ACC002",
    }
    assert gateway.post("/payment/confirm", json=body, headers={**auth, **new_key()}).status_code == 200
    deadline = time.monotonic() + WAIT_S
    entries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        entries = services["audit"].get("/audit/events", params={"transaction_id": txn}).json()["events"]
        if len(entries) >= 4:
            break
        time.sleep(0.3)
    assert [e["event_type"] for e in entries] == [
        "payment.requires_confirmation",
        "payment.funds_held",
        "payment.processing",
        "payment.completed",
    ]
    assert services["audit"].get("/audit/verify").json()["valid"] is True

    email = services["account"].get("/customers/cust_001").json()["email"]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        inbox = services["notification"].get("/dev/inbox", params={"recipient": email}).json()["messages"]
        if any(txn in m["body"] for m in inbox):
            break
        time.sleep(0.3)
    assert any(txn in m["body"] and "confirmed" in m["body"] for m in inbox)


def test_a_payment_finished_by_the_resolver_stays_in_its_trace(
    gateway: httpx.Client, services: dict[str, httpx.Client], kafka_bootstrap: str
) -> None:
    auth = login(gateway, "demo")
    services["partner_bank"].post(
        "/admin/faults", json={"mode": "timeout_after_execute", "count": 1, "latency_ms": 4000}
    )
    body = payment_body("cust_001", "2.00", "ACC001", "ACC002")
    first = gateway.post("/payment/confirm", json=body, headers={**auth, **new_key()})
    assert first.status_code == 202, first.text
    payment_id = first.json()["payment_id"]
    events = asyncio.run(_payment_events(kafka_bootstrap, payment_id, 4))
    assert "payment.completed" in [event["type"] for event, _ in events]
    assert len({headers["traceparent"].split("-")[1] for _, headers in events}) == 1
