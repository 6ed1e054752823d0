"""The append-only, hash-chained audit log: recording, querying, verifying, tampering."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from audit.events import AuditHandlers
from paykit.events import CloudEvent, new_event

HANDLERS = AuditHandlers()


def payment_event(transaction_id: str, state: str, **data: Any) -> CloudEvent:
    return new_event(
        source="confirm",
        type=f"payment.{state}",
        subject=f"pay_{transaction_id}",
        data={
            "payment_id": f"pay_{transaction_id}",
            "transaction_id": transaction_id,
            "customer_id": "cust_001",
            "state": state.upper(),
            "amount_minor": 100_000,
            "currency": "USD",
            **data,
        },
    )


async def record(db: asyncpg.Connection, *events: CloudEvent) -> None:
    for event in events:
        async with db.transaction():  # as the consumer runs it, beside its inbox insert
            if event.type.startswith("kyc."):
                await HANDLERS.handle_kyc_event(db, event)
            else:
                await HANDLERS.handle_payment_event(db, event)


async def verify(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/audit/verify")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_events_are_recorded_once_and_found_by_transaction_and_customer(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = payment_event("TXN_1", "requires_confirmation")
    completed = payment_event("TXN_1", "completed", weird={"b": 1.50, "a": [1e3, "x"]})
    kyc = new_event(source="kyc", type="kyc.verified", subject="cust_002", data={"tier": 2})
    await record(db, created, payment_event("TXN_2", "declined"), completed, completed, kyc)

    response = await client.get("/audit/events", params={"transaction_id": "TXN_1"})
    events = response.json()["events"]
    assert [e["event_type"] for e in events] == ["payment.requires_confirmation", "payment.completed"]
    assert events[1]["event_id"] == completed.id
    assert events[1]["data"]["weird"] == {"a": [1000.0, "x"], "b": 1.5}
    assert response.json()["next_after_id"] is None
    by_customer = await client.get("/audit/events", params={"customer_id": "cust_002"})
    assert [e["event_type"] for e in by_customer.json()["events"]] == ["kyc.verified"]
    assert await verify(client) == {"valid": True, "checked": 4}


async def test_pages_follow_each_other_and_the_limit_is_capped(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await record(db, *(payment_event(f"T{i}", "completed") for i in range(5)))
    first = (await client.get("/audit/events", params={"limit": 3})).json()
    rest = (await client.get("/audit/events", params={"limit": 3, "after_id": first["next_after_id"]})).json()
    ids = [e["id"] for e in first["events"] + rest["events"]]
    assert ids == [1, 2, 3, 4, 5] and rest["next_after_id"] is None
    assert (await client.get("/audit/events", params={"limit": 5000})).status_code == 422


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET event_type = 'payment.refunded' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "TRUNCATE audit_log",
    ],
)
async def test_the_log_refuses_update_delete_and_truncate(
    db: asyncpg.Connection, client: httpx.AsyncClient, statement: str
) -> None:
    await record(db, payment_event("TXN_1", "completed"))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)
    assert await verify(client) == {"valid": True, "checked": 1}


async def test_verify_names_the_first_tampered_entry(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await record(db, *(payment_event(f"T{i}", "completed") for i in range(4)))
    # The tamperer is a superuser who switches the trigger off for a moment.
    async with db.transaction():
        await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await db.execute("UPDATE audit_log SET data = jsonb_set(data, '{amount_minor}', '1') WHERE id = 3")
        await db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    assert await verify(client) == {
        "valid": False,
        "checked": 3,
        "first_broken_id": 3,
        "reason": "CHAIN_BROKEN",
    }


async def test_verify_detects_a_removed_entry_even_with_rehashed_rows(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await record(db, *(payment_event(f"T{i}", "completed") for i in range(3)))
    async with db.transaction():
        await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await db.execute("DELETE FROM audit_log WHERE id = 2")
        await db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    assert await verify(client) == {
        "valid": False,
        "checked": 2,
        "first_broken_id": 3,
        "reason": "CHAIN_BROKEN",
    }


async def test_concurrent_appends_keep_one_unbroken_chain(
    client: httpx.AsyncClient, database_url: str
) -> None:
    async def one(i: int) -> None:
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
        try:
            await record(conn, payment_event(f"T{i}", "completed"))
        finally:
            await conn.close()

    await asyncio.gather(*(one(i) for i in range(12)))
    assert await verify(client) == {"valid": True, "checked": 12}


async def test_an_empty_log_verifies(client: httpx.AsyncClient) -> None:
    assert await verify(client) == {"valid": True, "checked": 0}


async def record_batch(db: asyncpg.Connection, *events: CloudEvent) -> None:
    async with db.transaction():  # as the consumer runs a fetched batch, beside its inbox inserts
        await HANDLERS.handle_payment_events(db, events)


async def test_a_batch_is_recorded_in_order_once_and_the_chain_verifies(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = payment_event("TXN_B0", "requires_confirmation")
    await record(db, first)
    batch = [payment_event(f"TXN_B{i}", "completed", weird={"b": 1.50, "n": i}) for i in range(1, 6)]
    await record_batch(db, batch[0], first, batch[1], batch[0], *batch[2:])  # duplicates ignored
    await record_batch(db, *batch)  # the whole batch delivered again

    events = (await client.get("/audit/events")).json()["events"]
    assert [(e["id"], e["event_id"]) for e in events] == [
        (i + 1, ev.id) for i, ev in enumerate([first, *batch])
    ]
    assert events[3]["data"]["weird"] == {"b": 1.5, "n": 3}
    assert await verify(client) == {"valid": True, "checked": 6}


async def test_a_batch_makes_the_checkpoints_its_positions_call_for(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    from audit.domain import CHECKPOINT_EVERY_DEFAULT as n

    await record_batch(db, *(payment_event(f"TXN_K{i}", "completed") for i in range(n + 3)))
    assert [r["head_id"] for r in await db.fetch("SELECT head_id FROM audit_checkpoints")] == [n]
    assert await verify(client) == {"valid": True, "checked": n + 3}
