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


# Which statement wrote each final state and each stored answer (statement_timestamp() is
# when the statement's message arrived: two statements of one transaction differ).
RECORD_STATEMENTS = """
CREATE TABLE written_by (what TEXT NOT NULL, at TIMESTAMPTZ NOT NULL);
CREATE FUNCTION record_final_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO written_by VALUES ('state ' || NEW.state, statement_timestamp()); RETURN NEW; END $$;
CREATE TRIGGER record_final_state AFTER UPDATE ON payments
    FOR EACH ROW WHEN (NEW.state IN ('COMPLETED', 'FAILED')) EXECUTE FUNCTION record_final_state();
CREATE FUNCTION record_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO written_by VALUES ('answer', statement_timestamp()); RETURN NEW; END $$;
CREATE TRIGGER record_answer AFTER UPDATE ON idempotency_keys
    FOR EACH ROW WHEN (NEW.response_status IS NOT NULL) EXECUTE FUNCTION record_answer();
"""


async def _written_by(world: World) -> dict[str, object]:
    async with world.confirm_db.acquire() as conn:
        return {r["what"]: r["at"] for r in await conn.fetch("SELECT what, at FROM written_by")}


@pytest.mark.parametrize("bank_declines", [False, True], ids=["completed", "failed"])
async def test_the_final_state_and_its_answer_are_one_statement(world: World, bank_declines: bool) -> None:
    """One round trip (no BEGIN, no statement of its own for the answer, no COMMIT), and the
    answer a retry replays is byte for byte the one the request got."""
    async with world.confirm_db.acquire() as conn:
        await conn.execute(RECORD_STATEMENTS)
    if bank_declines:
        await world.bank.post("/admin/faults", json={"mode": "decline", "count": 1})
    first = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert first.status_code == (422 if bank_declines else 200), first.text
    written = await _written_by(world)
    final = "state FAILED" if bank_declines else "state COMPLETED"
    assert set(written) == {final, "answer"}
    assert written[final] == written["answer"], "the answer was written by a statement of its own"

    replay = await world.confirm.post("/payment/confirm", json=payment(), headers=headers("k1"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert (replay.status_code, replay.content) == (first.status_code, first.content)
    if not bank_declines:
        shown = await world.confirm.get(f"/payments/{first.json()['payment_id']}", headers=headers("g"))
        assert first.json()["confirmed_at"] == shown.json()["confirmed_at"] == shown.json()["completed_at"]
