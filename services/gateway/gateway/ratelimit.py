"""Rate limits shared by every gateway instance (counters in Redis, moving windows from the
`limits` library), per client IP and per user, with RateLimit-* and Retry-After headers."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from paykit.errors import ProblemError
from redis.asyncio import Redis

TRUSTED_PROXIES = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


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
        self.rules: dict[str, RateLimitItem] = {
            "login": parse(login),
            "login_user": parse(login_user),
            "user": parse(user),
            "ip": parse(ip),
        }

    async def hit(self, request: Request, rule: str, identifier: str) -> None:
        """Count one request; raise 429 when over the limit. The tightest limit seen on this
        request is what the RateLimit-* headers report."""
        item = self.rules[rule]
        allowed = await self.limiter.hit(item, rule, identifier)
        stats = await self.limiter.get_window_stats(item, rule, identifier)
        reset_s = max(0, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, stats.remaining)),
            "RateLimit-Reset": str(reset_s),
        }
        current: dict[str, str] | None = getattr(request.state, "ratelimit_headers", None)
        if current is None or int(current["RateLimit-Remaining"]) >= stats.remaining:
            request.state.ratelimit_headers = headers
        if not allowed:
            raise ProblemError(
                429,
                "RATE_LIMITED",
                "Too many requests, please try again later.",
                headers={**headers, "Retry-After": str(max(1, reset_s))},
            )


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
    return any(ip in ipaddress.ip_network(net) for net in TRUSTED_PROXIES)


def install_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def _ratelimit_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        headers: dict[str, str] | None = getattr(request.state, "ratelimit_headers", None)
        if headers:
            for name, value in headers.items():
                response.headers.setdefault(name, value)
        return response
