"""Change marks: how a service that keeps another service's answers knows they still hold.

Risk keeps a customer's KYC status and their sanctions screening between payments (asking
kyc and ofac on every payment was two of its three calls). A kept answer is only as good as
the news of its change, so the owners of those answers write a new random *mark* to Redis
whenever one changes: kyc for a customer's KYC status, ofac for the sanctions lists in use,
once before the change and once after it. A keeper reads the marks before it asks, keeps
each answer with the mark it read, and uses it only while that mark is still the one in
Redis. An answer read before a change is never used once the change has been answered for;
one read while the change was being committed lives until the mark written after it.

Marks are random, never counters: a Redis that restarts or loses a key cannot bring an old
mark back, and a missing mark is replaced by a new one on the next read (so marks may expire).
A keeper that cannot read the marks in time asks every time; an owner that cannot write the
mark before a change does not make the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import kv
from .config import ServiceSettings

log = logging.getLogger("paykit.marks")

SANCTIONS_LISTS = "mark:sanctions-lists"
# Long enough that keepers rarely see a mark replaced for nothing; an expired mark is safe.
MARK_TTL_S = 86_400
# On the payment path a slow Redis means asking the owner, not waiting for Redis.
TIMEOUT_S = 0.25
RENEW_AFTER_ATTEMPTS = 3
RENEW_AFTER_PAUSE_S = 0.1

FAILURES = Counter(
    "change_mark_failures_total",
    "Change marks that could not be read or written in time (read: answers asked again; "
    "renew: the change refused; renew_after: kept answers may outlive a change until they expire)",
    ["operation"],
)


class MarksUnavailable(Exception):
    """Redis did not take the new marks in time."""


def kyc_status(customer_id: str) -> str:
    """The mark of one customer's KYC status and limits."""
    return f"mark:kyc:{customer_id}"


def _new_mark() -> bytes:
    return secrets.token_hex(16).encode()


def _as_bytes(value: bytes | str) -> bytes:
    """A mark as read (a client may decode responses)."""
    return value if isinstance(value, bytes) else value.encode()


class ChangeMarks:
    def __init__(self, redis: Redis, *, timeout_s: float = TIMEOUT_S, ttl_s: int = MARK_TTL_S) -> None:
        self._redis = redis
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s

    async def renew(self, *names: str) -> None:
        """New marks for `names` (an owner, before a change). Raises MarksUnavailable."""
        try:
            async with asyncio.timeout(self._timeout_s), self._redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.set(name, _new_mark(), ex=self._ttl_s)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            FAILURES.labels("renew").inc()
            raise MarksUnavailable(f"change marks not written: {exc!r}") from exc

    async def renew_after(self, *names: str) -> bool:
        """`renew` after a change, tried a few times: the change is made, so there is nothing to
        refuse. False (logged, counted) when it never got through: an answer kept while the
        change committed then lives until it expires."""
        for attempt in range(1, RENEW_AFTER_ATTEMPTS + 1):
            try:
                await self.renew(*names)
                return True
            except MarksUnavailable:
                if attempt < RENEW_AFTER_ATTEMPTS:
                    await asyncio.sleep(RENEW_AFTER_PAUSE_S * attempt)
        FAILURES.labels("renew_after").inc()
        log.error("change marks %s not renewed after a change; kept answers live until they expire", names)
        return False

    async def read(self, names: Sequence[str]) -> dict[str, bytes] | None:
        """The current mark of each of `names` (a keeper, before asking); a missing one is set
        now. None when Redis did not answer in time: keep nothing, use nothing."""
        try:
            async with asyncio.timeout(self._timeout_s):
                values = await self._redis.mget(names)
                marks = {n: _as_bytes(v) for n, v in zip(names, values, strict=True) if v is not None}
                missing = [n for n in names if n not in marks]
                if missing:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for name in missing:
                            pipe.set(name, _new_mark(), ex=self._ttl_s, nx=True)
                        await pipe.execute()
                    # Whoever set it first (another keeper, or an owner renewing) wins.
                    again = await self._redis.mget(missing)
                    if any(v is None for v in again):
                        return None  # expired between the two reads: ask this time
                    marks.update(
                        (n, _as_bytes(v)) for n, v in zip(missing, again, strict=True) if v is not None
                    )
        except (RedisError, OSError, TimeoutError):
            FAILURES.labels("read").inc()
            return None
        return marks


@contextlib.asynccontextmanager
async def open_marks(settings: ServiceSettings) -> AsyncIterator[ChangeMarks | None]:
    """The service's marks on REDIS_URL (None without it), closed on the way out. Not a
    readiness check: a keeper without marks asks, an owner without them refuses changes."""
    if not settings.redis_url:
        yield None
        return
    redis = kv.create_redis(settings)
    try:
        yield ChangeMarks(redis)
    finally:
        await redis.aclose()
