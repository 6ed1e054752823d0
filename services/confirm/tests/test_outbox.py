"""A state change and its event are written by one statement: a change that does not happen
(the payment already moved on, or the transaction id was taken) writes no event."""

from __future__ import annotations

import json

import asyncpg
import pytest
from confirm import store
from confirm.domain import State
from confirm.events import state_change
from paykit.events import OutboxRow

from .conftest import World, headers, payment


async def _events(world: World, payment_id: str) -> list[dict[str, object]]:
    async with world.confirm_db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event::text AS event FROM outbox WHERE event_key = $1 ORDER BY id", payment_id
        )
    return [json.loads(r["event"])["data"] for r in rows]


async def test_a_compare_and_set_that_misses_writes_no_event(world: World) -> None:
    created = await world.confirm.post("/payments", json=payment(), headers=headers("create"))
    payment_id = created.json()["payment_id"]
    found = await store.get(world.app.state.deps.pool, payment_id)
    assert found is not None
    event = state_change(payment_id, found.terms, State.PROCESSING, State.FUNDS_HELD, None)
    async with world.confirm_db.acquire() as conn:
        moved = await store.transition(conn, payment_id, State.FUNDS_HELD, State.PROCESSING, event=event)
    assert moved is None
    assert [e["state"] for e in await _events(world, payment_id)] == ["REQUIRES_CONFIRMATION"]


async def test_a_transaction_id_taken_writes_no_second_event(world: World) -> None:
    first = await world.confirm.post("/payments", json=payment(), headers=headers("one"))
    payment_id = first.json()["payment_id"]
    found = await store.get(world.app.state.deps.pool, payment_id)
    assert found is not None
    event = state_change("pay_other", found.terms, State.REQUIRES_CONFIRMATION, None, None)
    async with world.confirm_db.acquire() as conn:
        assert await store.insert_payment(conn, "pay_other", found.terms, None, event) is None
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_key = 'pay_other'") == 0


async def test_each_event_says_what_the_change_was(world: World) -> None:
    await world.bank.post("/admin/faults", json={"mode": "decline", "count": 1})
    answer = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k"))
    events = await _events(world, answer.json()["payment_id"])
    assert [(e["previous_state"], e["state"]) for e in events] == [
        (None, "REQUIRES_CONFIRMATION"),
        ("REQUIRES_CONFIRMATION", "FUNDS_HELD"),
        ("FUNDS_HELD", "PROCESSING"),
        ("PROCESSING", "FAILED"),
    ]
    assert events[-1]["reason"] == answer.json()["reason"]
    assert {e["amount"] for e in events} == {"100.00"}


async def test_a_move_through_states_is_one_change_with_every_event_or_none(world: World) -> None:
    created = await world.confirm.post("/payments", json=payment(), headers=headers("through"))
    payment_id = created.json()["payment_id"]
    found = await store.get(world.app.state.deps.pool, payment_id)
    assert found is not None
    start = State.REQUIRES_CONFIRMATION

    def events(*steps: State) -> list[OutboxRow]:
        previous = [start, *steps]
        return [
            state_change(payment_id, found.terms, s, p, None) for s, p in zip(steps, previous, strict=False)
        ]

    async with world.confirm_db.acquire() as conn:
        # Not in the expected state: nothing changes, no event.
        missed = await store.move_through(
            conn, payment_id, State.FUNDS_HELD, [State.PROCESSING], events(State.PROCESSING)
        )
        assert missed is None
        # An illegal step after a legal one: the statement fails whole.
        illegal = [State.FUNDS_HELD, State.COMPLETED]
        with pytest.raises(asyncpg.CheckViolationError):
            await store.move_through(conn, payment_id, start, illegal, events(*illegal))
        assert (await store.get(conn, payment_id)).state is start  # type: ignore[union-attr]
        assert [e["state"] for e in await _events(world, payment_id)] == ["REQUIRES_CONFIRMATION"]
        steps = [State.FUNDS_HELD, State.PROCESSING]
        moved = await store.move_through(conn, payment_id, start, steps, events(*steps))
        history = await store.history(conn, payment_id)
    assert moved is not None and moved.state is State.PROCESSING
    assert [(e["previous_state"], e["state"]) for e in await _events(world, payment_id)] == [
        (None, "REQUIRES_CONFIRMATION"),
        ("REQUIRES_CONFIRMATION", "FUNDS_HELD"),
        ("FUNDS_HELD", "PROCESSING"),
    ]
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "REQUIRES_CONFIRMATION"),
        ("REQUIRES_CONFIRMATION", "FUNDS_HELD"),
        ("FUNDS_HELD", "PROCESSING"),
    ]
