"""Opening and closing what a service depends on, with a readiness check for each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from redis.asyncio import Redis

from . import db, kv
from .config import ServiceSettings


@dataclass
class Resources:
    pool: asyncpg.Pool | None = None
    redis: Redis | None = None

    def require_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("this service was started without a database")
        return self.pool

    def require_redis(self) -> Redis:
        if self.redis is None:
            raise RuntimeError("this service was started without redis")
        return self.redis


@asynccontextmanager
async def open_resources(
    app: FastAPI,
    settings: ServiceSettings,
    *,
    migrations_dir: Path | None = None,
    use_redis: bool = False,
) -> AsyncIterator[Resources]:
    """Migrate and open Postgres (when `migrations_dir` is given) and Redis (when asked);
    register `/ready` checks for them; close them on the way out."""
    resources = Resources()
    readiness = app.state.readiness
    try:
        if migrations_dir is not None:
            resources.pool = await db.prepare_database(settings, migrations_dir)
            pool = resources.pool
            readiness.add("postgres", lambda: db.ping(pool))
        if use_redis:
            resources.redis = kv.create_redis(settings)
            client = resources.redis
            readiness.add("redis", lambda: kv.ping(client))
        app.state.resources = resources
        yield resources
    finally:
        if resources.redis is not None:
            await resources.redis.aclose()
        if resources.pool is not None:
            await resources.pool.close()
