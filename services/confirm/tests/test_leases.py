"""Issue 9 item 6: a payment's lease has an owner; only the owner renews or releases it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from confirm import store, usecases

from .conftest import World, headers, payment


async def _create(world: World) -> str:
    created = await world.confirm.post("/payments", json=payment(), headers=headers("create"))
    assert created.status_code == 201, created.text
    return str(created.json()["payment_id"])


async def test_a_stale_worker_cannot_release_the_lease_someone_else_took_over(world: World) -> None:
    payment_id = await _create(world)
    async with world.confirm_db.acquire() as conn:
        assert await store.take_lease(conn, payment_id, "stale", 0) is not None  # runs out at once
        assert await store.take_lease(conn, payment_id, "current", 30) is not None
        await store.release_lease(conn, payment_id, "stale")
        assert await store.take_lease(conn, payment_id, "third", 30) is None, "the stale release cleared it"
        assert not await store.renew_lease(conn, payment_id, "stale", 30)
        await store.release_lease(conn, payment_id, "current")
        assert await store.take_lease(conn, payment_id, "third", 30) is not None


async def test_a_lease_is_renewed_while_the_work_takes_longer_than_the_lease(world: World) -> None:
    payment_id = await _create(world)
    deps = world.app.state.deps
    # Renewed every lease_s / 3: a loaded machine may delay a renewal by a second and still
    # keep the lease (0.6 s left no such room).
    deps.limits = replace(deps.limits, lease_s=2.0)
    async with usecases._leased(deps, payment_id), world.confirm_db.acquire() as conn:
        first_end = await conn.fetchval("SELECT lease_until FROM payments WHERE payment_id = $1", payment_id)
        # The work goes on until the first lease would have run out (database clock).
        for _ in range(100):
            if await conn.fetchval("SELECT now() > $1::timestamptz", first_end):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the database clock never passed the first lease's end")
        assert await store.take_lease(conn, payment_id, "intruder", 30) is None
    async with world.confirm_db.acquire() as conn:
        assert await store.take_lease(conn, payment_id, "next", 30) is not None


async def test_a_payment_ends_with_its_lease_let_go_and_the_banks_word_recorded(world: World) -> None:
    for key, fault in (("done", None), ("declined", "decline")):
        if fault is not None:
            await world.bank.post("/admin/faults", json={"mode": fault, "count": 1})
        answer = await world.confirm.post(
            "/payment/confirm", json=payment(transaction_id=f"txn_{key}"), headers=headers(key)
        )
        payment_id = answer.json()["payment_id"]
        async with world.confirm_db.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT state, lease_owner, lease_until, bank_status, bank_reference FROM payments"
                " WHERE payment_id = $1",
                payment_id,
            )
            changes = await conn.fetchval(
                "SELECT count(*) FROM payment_history WHERE payment_id = $1", payment_id
            )
            events = await conn.fetchval("SELECT count(*) FROM outbox WHERE event_key = $1", payment_id)
        assert (row["lease_owner"], row["lease_until"]) == (None, None), key
        assert row["state"] == ("COMPLETED" if fault is None else "FAILED")
        assert row["bank_status"] == ("COMPLETED" if fault is None else "REJECTED")
        if fault is None:
            assert row["bank_reference"], "the bank's reference is kept with the payment"
        # REQUIRES_CONFIRMATION, FUNDS_HELD, PROCESSING, and the final state: one event each.
        assert changes == events == 4, key
        # Another request may work on it at once (nothing holds it for the lease's 30 s).
        async with world.confirm_db.acquire() as conn:
            assert await store.take_lease(conn, payment_id, "next", 30) is not None
