"""Rate limits shared by every gateway instance (counters in Redis, moving windows from the
`limits` library), per client IP and per user, with RateLimit-* and Retry-After headers.
`hit` sends the library's scripts in one pipeline (count, then read the window) instead of a
round trip each: a payment's IP limit and token revocation cost one round trip, its user
limit a second (five before, a fifth of the gateway's CPU per payment in its profile).

When Redis cannot be asked (down, slow, out of connections) the request is refused with a
503 RATE_LIMITER_UNAVAILABLE and Retry-After: a limit we cannot check is not a limit we may
skip, so no payment goes through unchecked, and an overload is never a 500."""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Any

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.bridge import RedisBridge
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from paykit.errors import ProblemError
from paykit.metrics import HTTP_SHED
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRUSTED_PROXIES = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_Command = tuple[str | int | float, ...]


class RateLimits:
    def __init__(
        self, redis: Redis, redis_url: str, *, login: str, login_user: str, user: str, ip: str
    ) -> None:
        # Our own client's pool: one set of connections, closed with the service.
        storage = RedisStorage(
            redis_url.replace("redis://", "async+redis://", 1),
            implementation="redispy",
            key_prefix="gateway:ratelimit",
            wrap_exceptions=True,
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.storage = storage
        self.redis = redis
        self._bridge = storage.bridge
        # `hit` pipelines the same scripts the limiter runs (registering only hashes them).
        self._acquire = redis.register_script(RedisBridge.SCRIPT_ACQUIRE_MOVING_WINDOW)
        self._window = redis.register_script(RedisBridge.SCRIPT_MOVING_WINDOW)
        self.rules: dict[str, RateLimitItem] = {
            "login": parse(login),
            "login_user": parse(login_user),
            "user": parse(user),
            "ip": parse(ip),
        }

    async def check(self, request: Request, rule: str, identifier: str) -> None:
        """Raise 429 when `identifier` is over the limit, without counting this request."""
        item = self.rules[rule]
        try:
            allowed = await self.limiter.test(item, rule, identifier)
            stats = await self.limiter.get_window_stats(item, rule, identifier)
        except (StorageError, RedisError, OSError, TimeoutError) as exc:
            raise guard_unavailable("RATE_LIMITER_UNAVAILABLE", "Rate limits cannot be checked now") from exc
        if not allowed:
            reset_s = max(1, math.ceil(stats.reset_time - time.time()))
            raise ProblemError(
                429,
                "RATE_LIMITED",
                "Too many requests, please try again later.",
                headers={
                    "Retry-After": str(reset_s),
                    "RateLimit-Limit": str(item.amount),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset_s),
                },
            )

    async def record(self, request: Request, rule: str, identifier: str) -> None:
        """Count one event (a failed login) against `identifier`; never refuses by itself."""
        try:
            await self.limiter.hit(self.rules[rule], rule, identifier)
        except (StorageError, RedisError, OSError, TimeoutError) as exc:
            raise guard_unavailable("RATE_LIMITER_UNAVAILABLE", "Rate limits cannot be checked now") from exc

    async def hit(self, request: Request, rule: str, identifier: str, *, exists: str | None = None) -> bool:
        """Count one request; raise 429 when over the limit. The tightest limit seen on this
        request is what the RateLimit-* headers report. `exists` names a key whose presence
        comes back from the same round trip (the access token's revocation mark); False when
        none is named. The limit is decided first: a refused request learns nothing more."""
        item = self.rules[rule]
        key = self._bridge.prefixed_key(item.key_for(rule, identifier))
        expiry_s = item.get_expiry()
        now = time.time()
        # The library's own moving-window scripts, sent together: counting, reading the
        # window (what `hit` and `get_window_stats` do) and the extra key cost one round trip.
        commands: list[_Command] = [
            ("EVALSHA", self._acquire.sha, 1, key, now, item.amount, expiry_s, 1),
            ("EVALSHA", self._window.sha, 1, key, now - expiry_s, item.amount),
        ]
        if exists is not None:
            commands.append(("EXISTS", exists))
        try:
            results = await self._run(commands)
        except (RedisError, OSError, TimeoutError) as exc:
            raise guard_unavailable("RATE_LIMITER_UNAVAILABLE", "Rate limits cannot be checked now") from exc
        allowed, window = bool(results[0]), results[1]
        start = float(window[0]) if window else now
        remaining = item.amount - (int(window[1]) if window else 0)
        reset_s = max(0, math.ceil(start + expiry_s - time.time()))
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": str(reset_s),
        }
        current: dict[str, str] | None = getattr(request.state, "ratelimit_headers", None)
        if current is None or int(current["RateLimit-Remaining"]) >= remaining:
            request.state.ratelimit_headers = headers
        if not allowed:
            raise ProblemError(
                429,
                "RATE_LIMITED",
                "Too many requests, please try again later.",
                headers={**headers, "Retry-After": str(max(1, reset_s))},
            )
        return exists is not None and bool(results[2])

    async def _run(self, commands: list[_Command]) -> list[Any]:
        """The commands in one pipeline. A restarted Redis has forgotten the scripts: they are
        loaded and only the commands refused for it are sent again, so nothing counts twice."""
        results = await self._pipeline(commands)
        forgotten = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if forgotten:
            for script in (self._acquire, self._window):
                await self.redis.script_load(script.script)
            again = await self._pipeline([commands[i] for i in forgotten])
            for i, result in zip(forgotten, again, strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def _pipeline(self, commands: list[_Command]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)


def guard_unavailable(code: str, detail: str) -> ProblemError:
    """A check that must pass before any work could not be made: refuse, counted as shed."""
    HTTP_SHED.labels("gateway", "dependency").inc()
    return ProblemError(503, code, f"{detail}; retry shortly", headers={"Retry-After": "1"})


def client_ip(request: Request) -> str:
    """The caller's address; X-Real-IP only counts when nginx (a trusted proxy) set it."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-real-ip")
    if forwarded and _is_trusted(peer):
        return forwarded.strip()[:64]
    return peer


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in TRUSTED_PROXIES)


class _RateLimitHeaders:
    """Adds the RateLimit-* headers a route's limit checks left in `request.state`
    (pure ASGI: Starlette's BaseHTTPMiddleware costs a task group per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                headers: dict[str, str] | None = state.get("ratelimit_headers")
                if headers:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    extra = [
                        (name.lower().encode(), value.encode())
                        for name, value in headers.items()
                        if name.lower().encode() not in present
                    ]
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_headers(app: FastAPI) -> None:
    app.add_middleware(_RateLimitHeaders)
