"""Idempotency keys with Stripe's semantics (DESIGN §4), stored in Postgres.

- same key + same body  -> the first response replayed (status and body), `Idempotent-Replayed: true`
- same key + other body -> 422 IDEMPOTENCY_KEY_REUSED
- same key while the first request still runs -> 409 IDEMPOTENCY_REQUEST_IN_PROGRESS + Retry-After
- a transient failure (5xx) is not stored: the key is released so the client may retry
- a request that crashed holds its key only until its lease runs out
- a use case may store the answer in the transaction of its last state change
  (`pending_answer().store(conn, ...)`), or in the statement of that change itself
  (`pending_answer().prepare(...)` and `answer_for_each`): a crash can then not leave the
  change without it, and the request needs no commit of its own for the answer

Keys are scoped to (principal, route) and kept 24 h. The claim is one INSERT ... ON CONFLICT,
so two racing requests can never both run (the seed's Redis check-then-set could).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
from starlette.responses import Response

from .errors import PROBLEM_JSON, ProblemError

KEY_LENGTH_MAX = 255
LEASE_S = 60
RETRY_AFTER_S = 1
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


Answer = tuple[int, dict[str, Any]]


class AnswerRow(NamedTuple):
    """The parameters of `answer_for_each`, in its order."""

    status: int
    body: bytes
    principal: str
    route: str
    key: str


def answer_for_each(changed: str, first: int) -> str:
    """A WITH item storing an answer (parameters `first`..`first`+4, an AnswerRow) when the
    WITH item `changed` returns a row: the answer is written by the statement of the state
    change it answers, or not at all when nothing changed."""
    status, body, principal, route, key = (f"${first + i}" for i in range(5))
    return f"""answered AS (UPDATE idempotency_keys
                 SET response_status = {status}::int, response_body = {body}::bytea, locked_until = NULL
                 WHERE principal = {principal} AND route = {route} AND idempotency_key = {key}
                   AND EXISTS (SELECT 1 FROM {changed}))"""


@dataclass
class PendingAnswer:
    """The key the running request will be answered under (see `pending_answer`)."""

    principal: str
    route: str
    key: str
    instance: str
    stored: tuple[int, bytes] | None = None  # committed
    _written: tuple[int, bytes] | None = None  # not known to be committed yet

    async def store(self, conn: asyncpg.Connection, answer: Callable[[], Answer]) -> None:
        """Store `answer()` (a ProblemError it raises is an answer too) on `conn` inside the
        caller's transaction, so it commits or rolls back with the caller's state change;
        call `committed()` once that transaction has committed. An answer that would release
        the key (5xx, 409) is left to the request's end."""
        if not conn.is_in_transaction():
            raise RuntimeError("an answer is stored in the transaction of its state change")
        status, raw, _ = _outcome(answer, self.instance or self.route)
        if status >= 500 or status == 409:
            return
        await _store_answer(conn, self.principal, self.route, self.key, status, raw)
        self._written = (status, raw)

    def prepare(self, answer: Callable[[], Answer]) -> AnswerRow | None:
        """`answer()` as the parameters of `answer_for_each`, for a state change and its
        answer written by one statement (one round trip, no transaction to open and commit).
        None for an answer that would release the key (5xx, 409): the request's end deals
        with it. Call `committed()` once that statement's transaction has committed."""
        status, raw, _ = _outcome(answer, self.instance or self.route)
        if status >= 500 or status == 409:
            return None
        self._written = (status, raw)
        return AnswerRow(status, raw, self.principal, self.route, self.key)

    def committed(self) -> None:
        """The transaction `store` wrote in has committed: the request's end need not store
        the answer again (it still does if it answers otherwise)."""
        if self._written is not None:
            self.stored, self._written = self._written, None


_PENDING: ContextVar[PendingAnswer | None] = ContextVar("paykit_pending_answer", default=None)


def pending_answer() -> PendingAnswer | None:
    """The key of the request being handled by `respond_idempotently`, if any."""
    return _PENDING.get()


def _outcome(answer: Callable[[], Answer], instance: str) -> tuple[int, bytes, str]:
    """Status, serialized body and media type of an answer or of the problem it raises."""
    try:
        status, body = answer()
        media_type = "application/json"
    except ProblemError as problem:
        status, body, media_type = problem.status, problem.to_body(instance), PROBLEM_JSON
    return status, json.dumps(body, separators=(",", ":")).encode(), media_type


async def _store_answer(
    conn: asyncpg.Connection, principal: str, route: str, key: str, status: int, raw: bytes
) -> None:
    await conn.execute(
        """UPDATE idempotency_keys SET response_status = $4, response_body = $5, locked_until = NULL
           WHERE principal = $1 AND route = $2 AND idempotency_key = $3""",
        principal,
        route,
        key,
        status,
        raw,
    )


def fingerprint(body: Any) -> str:
    """A hash of the request as the server understood it (canonical JSON)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ProblemError(400, "MISSING_IDEMPOTENCY_KEY", "Idempotency-Key header is required")
    if len(key) > KEY_LENGTH_MAX or not key.isprintable():
        raise ProblemError(
            400,
            "INVALID_IDEMPOTENCY_KEY",
            f"Idempotency-Key must be printable, at most {KEY_LENGTH_MAX} chars",
        )
    return key


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool, *, lease_s: int = LEASE_S) -> None:
        self.pool = pool
        self.lease_s = lease_s

    async def claim(self, principal: str, route: str, key: str, print_: str) -> StoredResponse | None:
        """Own the key (returns None) or learn the first request's outcome (returns it).

        Raises ProblemError 422 for a reused key with another body, 409 while in flight."""
        async with self.pool.acquire() as conn:
            # A new key (nearly every request) is one statement; the transaction below is for
            # keys seen before (replays, races, expired keys).
            if await self._insert(conn, principal, route, key, print_):
                return None
            async with conn.transaction():
                return await self._claim_known(conn, principal, route, key, print_)

    async def _insert(
        self, conn: asyncpg.Connection, principal: str, route: str, key: str, print_: str
    ) -> bool:
        inserted = await conn.fetchval(
            """INSERT INTO idempotency_keys (principal, route, idempotency_key, fingerprint, locked_until)
               VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
               ON CONFLICT DO NOTHING RETURNING 1""",
            principal,
            route,
            key,
            print_,
            self.lease_s,
        )
        return bool(inserted)

    async def _claim_known(
        self, conn: asyncpg.Connection, principal: str, route: str, key: str, print_: str
    ) -> StoredResponse | None:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE expires_at < now() AND principal = $1 "
            "AND route = $2 AND idempotency_key = $3",
            principal,
            route,
            key,
        )
        if await self._insert(conn, principal, route, key, print_):
            return None
        row = await conn.fetchrow(
            """SELECT fingerprint, response_status, response_body, locked_until > now() AS in_flight
               FROM idempotency_keys WHERE principal = $1 AND route = $2 AND idempotency_key = $3
               FOR UPDATE""",
            principal,
            route,
            key,
        )
        if row is None:  # expired and deleted by a concurrent request between our statements
            raise _in_progress()
        if row["fingerprint"] != print_:
            raise ProblemError(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request body",
            )
        if row["response_status"] is not None:
            return StoredResponse(row["response_status"], bytes(row["response_body"]))
        if row["in_flight"]:
            raise _in_progress()
        # The first request died without an answer: its lease ran out, we take over.
        await conn.execute(
            """UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $4)
               WHERE principal = $1 AND route = $2 AND idempotency_key = $3""",
            principal,
            route,
            key,
            self.lease_s,
        )
        return None

    async def complete(self, principal: str, route: str, key: str, status: int, body: bytes) -> None:
        """Store a final answer for replay, or release the key after a transient failure
        (5xx, or 409: the resource was busy, so the same request may succeed later)."""
        async with self.pool.acquire() as conn:
            if status >= 500 or status == 409:
                await conn.execute(
                    "DELETE FROM idempotency_keys"
                    " WHERE principal = $1 AND route = $2 AND idempotency_key = $3",
                    principal,
                    route,
                    key,
                )
                return
            await _store_answer(conn, principal, route, key, status, body)

    async def purge_expired(self, batch_size_max: int = 1000) -> int:
        result = await self.pool.execute(
            """DELETE FROM idempotency_keys WHERE ctid IN (
                   SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1)""",
            batch_size_max,
        )
        return int(result.split()[-1])


def _in_progress() -> ProblemError:
    return ProblemError(
        409,
        "IDEMPOTENCY_REQUEST_IN_PROGRESS",
        "A request with this Idempotency-Key is still being processed; retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def respond_idempotently(
    store: IdempotencyStore,
    *,
    principal: str,
    route: str,
    key: str,
    request_body: Any,
    handler: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    instance: str = "",
) -> Response:
    """Run `handler` once per (principal, route, key); replay its answer to every retry.

    A ProblemError from the handler is a final answer too (a decline stays declined for
    that key); only a 5xx releases the key."""
    stored = await store.claim(principal, route, key, fingerprint(request_body))
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=PROBLEM_JSON if stored.status >= 400 else "application/json",
            headers={REPLAYED_HEADER: "true"},
        )
    headers = {REPLAYED_HEADER: "false"}
    pending = PendingAnswer(principal, route, key, instance)
    token = _PENDING.set(pending)
    try:
        answer = await handler()
    except ProblemError as problem:
        headers.update(problem.headers)
        failed = problem  # bound for the closure: `problem` is unset after the block
        status, raw, media_type = _outcome(lambda: _raise(failed), instance or route)
    except BaseException:
        if pending.stored is None:  # an answer committed with its state change stays
            await store.complete(principal, route, key, 500, b"")
        raise
    else:
        status, raw, media_type = _outcome(lambda: answer, instance or route)
    finally:
        _PENDING.reset(token)
    if pending.stored != (status, raw):  # not stored, or the handler answered otherwise since
        await store.complete(principal, route, key, status, raw)
    return Response(raw, status_code=status, media_type=media_type, headers=headers)


def _raise(problem: ProblemError) -> Answer:
    raise problem
