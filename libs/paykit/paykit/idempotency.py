"""Idempotency keys with Stripe's semantics (DESIGN §4), stored in Postgres.

- same key + same body  -> the first response replayed (status and body), `Idempotent-Replayed: true`
- same key + other body -> 422 IDEMPOTENCY_KEY_REUSED
- same key while the first request still runs -> 409 IDEMPOTENCY_REQUEST_IN_PROGRESS + Retry-After
- a transient failure (5xx) is not stored: the key is released so the client may retry
- a request that crashed holds its key only until its lease runs out

Keys are scoped to (principal, route) and kept 24 h. The claim is one INSERT ... ON CONFLICT,
so two racing requests can never both run (the seed's Redis check-then-set could).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
            await conn.execute(
                """UPDATE idempotency_keys SET response_status = $4, response_body = $5, locked_until = NULL
                   WHERE principal = $1 AND route = $2 AND idempotency_key = $3""",
                principal,
                route,
                key,
                status,
                body,
            )

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
    try:
        status, body = await handler()
        media_type = "application/json"
    except ProblemError as problem:
        status, body, media_type = problem.status, problem.to_body(instance or route), PROBLEM_JSON
        headers.update(problem.headers)
    except BaseException:
        await store.complete(principal, route, key, 500, b"")
        raise
    raw = json.dumps(body, separators=(",", ":")).encode()
    await store.complete(principal, route, key, status, raw)
    return Response(raw, status_code=status, media_type=media_type, headers=headers)
