"""Issue 9 item 6: signed checkpoints anchor the chain's head, so deleting the newest rows or
rehashing the whole log is detected by /audit/verify."""

from __future__ import annotations

import asyncpg
import httpx

from .test_audit_log import payment_event, record, verify


async def _tamper(db: asyncpg.Connection, sql: str) -> None:
    await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        await db.execute(sql)
    finally:
        await db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_deleting_the_newest_entries_is_detected(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await record(db, *(payment_event(f"TXN_C{i}", "completed") for i in range(5)))
    checkpoint = await client.post("/audit/checkpoints")
    assert checkpoint.status_code == 201, checkpoint.text
    assert (checkpoint.json()["head_id"], len(checkpoint.json()["signature"])) == (5, 64)
    assert (await verify(client))["valid"] is True

    await _tamper(db, "DELETE FROM audit_log WHERE id > 3")  # the chain 1..3 is still unbroken
    result = await verify(client)
    assert result["valid"] is False
    assert result["first_broken_id"] == 4
    assert result["reason"] == "CHECKPOINT_MISMATCH"


async def test_a_rehashed_log_is_detected(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    from audit.domain import GENESIS_HASH, Entry

    await record(db, *(payment_event(f"TXN_R{i}", "completed") for i in range(3)))
    assert (await client.post("/audit/checkpoints")).status_code == 201
    # Rewrite entry 2's amount and recompute every hash from there: a chain check alone passes.
    rows = await db.fetch("SELECT * FROM audit_log ORDER BY id")
    prev = GENESIS_HASH
    await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        for row in rows:
            data = dict(__import__("json").loads(row["data"]))
            if row["id"] == 2:
                data["amount_minor"] = 1
            entry = Entry(
                id=row["id"], event_id=row["event_id"], topic=row["topic"], event_type=row["event_type"],
                source=row["source"], subject=row["subject"], transaction_id=row["transaction_id"],
                customer_id=row["customer_id"], data=data, event_time=row["event_time"],
                recorded_at=row["recorded_at"], prev_hash=prev,
            )  # fmt: skip
            new_hash = entry.hash()
            await db.execute(
                "UPDATE audit_log SET data = $2::jsonb, prev_hash = $3, hash = $4 WHERE id = $1",
                row["id"], __import__("json").dumps(data), prev, new_hash,
            )  # fmt: skip
            prev = new_hash
    finally:
        await db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    result = await verify(client)
    assert result["valid"] is False and result["reason"] == "CHECKPOINT_MISMATCH"


async def test_checkpoints_are_made_every_n_entries_and_cannot_be_forged(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    from audit.domain import CHECKPOINT_EVERY_DEFAULT as n

    await record(db, *(payment_event(f"TXN_N{i}", "completed") for i in range(n)))
    assert await db.fetchval("SELECT max(head_id) FROM audit_checkpoints") == n
    await db.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only")
    await db.execute("UPDATE audit_checkpoints SET signature = repeat('0', 64)")
    await db.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only")
    result = await verify(client)
    assert result["valid"] is False and result["reason"] == "CHECKPOINT_SIGNATURE"
