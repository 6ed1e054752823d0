"""Idempotency keys on real Postgres: one owner under any concurrency, replay, reuse, leases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from paykit.errors import ProblemError
from paykit.idempotency import (
    IdempotencyStore,
    answer_for_each,
    fingerprint,
    pending_answer,
    respond_idempotently,
    validate_key,
)
from paykit.testing import DatabaseFactory


@pytest.fixture
async def store(database_factory: DatabaseFactory, tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    url = database_factory.create("idem", tmp_path)  # paykit's own migrations only
    pool = await asyncpg.create_pool(url, min_size=1, max_size=25, server_settings={"search_path": "idem"})
    yield IdempotencyStore(pool, lease_s=1)
    await pool.close()
    database_factory.drop(url)


async def test_twenty_concurrent_requests_run_the_handler_once(store: IdempotencyStore) -> None:
    runs = 0

    async def handler() -> tuple[int, dict[str, int]]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.2)
        return 201, {"n": runs}

    async def request() -> tuple[int, bytes]:
        try:
            response = await respond_idempotently(
                store, principal="cust_1", route="POST /x", key="k", request_body={"a": 1}, handler=handler
            )
            return response.status_code, bytes(response.body)
        except ProblemError as busy:
            return busy.status, b""

    results = await asyncio.gather(*(request() for _ in range(20)))
    assert runs == 1
    assert sorted({status for status, _ in results}) in ([201, 409], [201])
    replay = await respond_idempotently(
        store, principal="cust_1", route="POST /x", key="k", request_body={"a": 1}, handler=handler
    )
    assert replay.status_code == 201 and json.loads(bytes(replay.body)) == {"n": 1}
    assert replay.headers["idempotent-replayed"] == "true"


async def test_other_body_is_422_and_other_principal_or_route_is_another_key(store: IdempotencyStore) -> None:
    assert await store.claim("u1", "POST /x", "k", fingerprint({"a": 1})) is None
    await store.complete("u1", "POST /x", "k", 200, b"{}")
    with pytest.raises(ProblemError) as reused:
        await store.claim("u1", "POST /x", "k", fingerprint({"a": 2}))
    assert (reused.value.status, reused.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert await store.claim("u2", "POST /x", "k", fingerprint({"a": 2})) is None
    assert await store.claim("u1", "POST /y", "k", fingerprint({"a": 2})) is None


async def test_in_flight_is_409_until_the_lease_of_a_crashed_request_runs_out(
    store: IdempotencyStore,
) -> None:
    assert await store.claim("u", "r", "k", "f") is None  # ...and the owner crashes
    with pytest.raises(ProblemError) as busy:
        await store.claim("u", "r", "k", "f")
    assert busy.value.status == 409 and busy.value.headers["Retry-After"] == "1"
    await asyncio.sleep(1.1)
    assert await store.claim("u", "r", "k", "f") is None, "the key is not wedged forever"


async def test_transient_failures_release_the_key_and_declines_stick(store: IdempotencyStore) -> None:
    async def unavailable() -> tuple[int, dict[str, str]]:
        raise ProblemError(503, "RISK_SERVICE_UNAVAILABLE", "later")

    async def declined() -> tuple[int, dict[str, str]]:
        raise ProblemError(422, "PAYMENT_DECLINED", "no")

    first = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=unavailable
    )
    assert first.status_code == 503
    second = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=declined
    )
    assert second.status_code == 422, "a 5xx is not stored: the retry ran"
    third = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=unavailable
    )
    assert third.status_code == 422 and json.loads(bytes(third.body))["code"] == "PAYMENT_DECLINED"


def test_missing_or_absurd_keys_are_400() -> None:
    for key in (None, "", "  ", "x" * 300, "bad\nkey"):
        with pytest.raises(ProblemError) as refused:
            validate_key(key)
        assert refused.value.status == 400
    with pytest.raises(ProblemError) as missing:
        validate_key(None)
    assert missing.value.code == "MISSING_IDEMPOTENCY_KEY"


async def test_an_answer_stored_with_the_handlers_state_change_survives_what_follows(
    store: IdempotencyStore,
) -> None:
    """A handler stores its answer in the transaction of its state change; whatever happens
    after that commit (here: the task is cancelled, as a dying request is), a retry with the
    key gets that answer and the handler does not run again."""
    runs = 0

    async def handler() -> tuple[int, dict[str, str]]:
        nonlocal runs
        runs += 1
        pending = pending_answer()
        assert pending is not None
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1")  # the handler's own state change would be here
            await pending.store(conn, lambda: (200, {"status": "SUCCESS"}))
        pending.committed()
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await respond_idempotently(store, principal="u", route="r", key="k", request_body={}, handler=handler)
    replay = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=handler
    )
    assert (replay.status_code, json.loads(bytes(replay.body))) == (200, {"status": "SUCCESS"})
    assert replay.headers["Idempotent-Replayed"] == "true" and runs == 1


async def test_a_stored_answer_rolled_back_with_its_transaction_is_not_replayed(
    store: IdempotencyStore,
) -> None:
    async def handler() -> tuple[int, dict[str, str]]:
        pending = pending_answer()
        assert pending is not None
        async with store.pool.acquire() as conn:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await pending.store(conn, lambda: (200, {"status": "SUCCESS"}))
                    raise RuntimeError("the state change failed")
        return 200, {"status": "RETRIED"}

    first = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=handler
    )
    replay = await respond_idempotently(
        store, principal="u", route="r", key="k", request_body={}, handler=handler
    )
    assert json.loads(bytes(first.body)) == json.loads(bytes(replay.body)) == {"status": "RETRIED"}


async def test_an_answer_written_by_the_statement_of_its_change_only_when_that_changes(
    store: IdempotencyStore,
) -> None:
    """`answer_for_each`: the answer rides on the state change's own statement, and a change
    that finds nothing to change writes no answer; a 5xx is never prepared (it frees the key)."""
    async with store.pool.acquire() as conn:
        await conn.execute("CREATE TABLE things (id INT PRIMARY KEY, state TEXT NOT NULL)")
        await conn.execute("INSERT INTO things VALUES (1, 'NEW')")
    expected = {"k-moved": "NEW", "k-missed": "GONE"}
    written: dict[str, int | None] = {}

    async def handler() -> tuple[int, dict[str, str]]:
        pending = pending_answer()
        assert pending is not None and pending.prepare(lambda: (503, {})) is None
        row = pending.prepare(lambda: (200, {"status": "DONE"}))
        assert row is not None
        async with store.pool.acquire() as conn:
            moved = await conn.fetchval(
                f"""WITH moved AS (UPDATE things SET state = 'DONE' WHERE id = 1 AND state = $1
                                   RETURNING id), {answer_for_each("moved", 2)}
                    SELECT count(*) FROM moved""",
                expected[pending.key],
                *row,
            )
            written[pending.key] = await conn.fetchval(
                "SELECT response_status FROM idempotency_keys WHERE idempotency_key = $1", pending.key
            )
        if moved:
            pending.committed()
            return 200, {"status": "DONE"}
        return 200, {"status": "NOTHING"}

    for key in expected:
        answer = await respond_idempotently(
            store, principal="u", route="r", key=key, request_body={}, handler=handler
        )
        replay = await respond_idempotently(
            store, principal="u", route="r", key=key, request_body={}, handler=handler
        )
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert bytes(replay.body) == bytes(answer.body)
    assert written == {"k-moved": 200, "k-missed": None}
