"""A confirm's stored answer (what a retry with the same Idempotency-Key gets) is committed
with the payment's final state change: a failure between the two leaves neither or both."""

from __future__ import annotations

import asyncpg
import pytest

from .conftest import World, headers, payment

# A fault in the database between the state change and the answer: storing any answer fails.
REFUSE_ANSWERS = """
CREATE FUNCTION refuse_answers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'answers refused by the test'; END $$;
CREATE TRIGGER refuse_answers BEFORE UPDATE ON idempotency_keys
    FOR EACH ROW WHEN (NEW.response_status IS NOT NULL) EXECUTE FUNCTION refuse_answers();
"""


async def _state_and_answer(world: World, key: str) -> tuple[str, int | None]:
    async with world.confirm_db.acquire() as conn:
        state = await conn.fetchval("SELECT state FROM payments WHERE transaction_id = 'txn_test_1'")
        answer = await conn.fetchval(
            "SELECT response_status FROM idempotency_keys WHERE idempotency_key = $1", key
        )
    return state, answer


async def test_the_final_state_and_its_answer_commit_together(world: World) -> None:
    async with world.confirm_db.acquire() as conn:
        await conn.execute(REFUSE_ANSWERS)
    # The in-process app's error reaches the test client as is (a server would answer 500).
    with pytest.raises(asyncpg.exceptions.RaiseError):
        await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    state, answer = await _state_and_answer(world, "k1")
    assert (state, answer) == ("PROCESSING", None), "neither the final state nor its answer"

    async with world.confirm_db.acquire() as conn:
        await conn.execute("DROP TRIGGER refuse_answers ON idempotency_keys")
    # Undone, not lost: the resolver finishes the payment from what the bank says, once.
    world.app.state.resolver.older_than_s = 0
    assert await world.app.state.resolver.run_once() == 1
    assert (await _state_and_answer(world, "k1"))[0] == "COMPLETED"
    assert await world.balance("ACC001") == 1_490_000 and await world.bank_balance("ACC001") == 1_490_000
