"""Redis connections with explicit timeouts."""

from __future__ import annotations

from redis.asyncio import Redis

from .config import ServiceSettings


def create_redis(settings: ServiceSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        max_connections=50,
        decode_responses=False,
    )


async def ping(client: Redis | None) -> bool:
    if client is None:
        return False
    try:
        return bool(await client.ping())
    except Exception:
        return False
