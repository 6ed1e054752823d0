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
