"""Wiring of the gateway: settings, keys shared by every instance, rate limits, upstreams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app, kv
from paykit.resources import open_resources
from pydantic import Field, SecretStr

from . import api, store
from .clients import Upstream
from .domain import KeyPair, key_pair_from_pem, new_key_pair
from .ratelimit import RateLimits, install_headers
from .usecases import AuthConfig, AuthDeps

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 3000
    jwt_issuer: str = "payment-fleet-gateway"
    jwt_audience: str = "payment-fleet"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 7 * 24 * 3600
    # A login's absolute lifetime: rotating refresh tokens never extends a session past it.
    refresh_family_ttl_s: int = Field(default=30 * 24 * 3600, ge=1)
    # PEM private keys; required in production, made once and shared through the DB in dev.
    jwt_private_key: SecretStr = SecretStr("")
    jwe_private_key: SecretStr = SecretStr("")
    # The seed's variable: here the pepper of stored refresh-token hashes.
    jwt_secret: SecretStr = SecretStr("dev-only-secret-change-me")
    # Login attempts per client IP and per username (argon2 makes each guess slow as well).
    rate_limit_login: str = "300/minute"
    rate_limit_login_user: str = "60/minute"
    rate_limit_user: str = "120/minute"
    rate_limit_ip: str = "600/minute"
    upstream_timeout_s: float = 35.0
    # The edge sheds here: a request names its budget in X-Request-Timeout-Ms or gets this
    # one (under nginx's 35 s read timeout); past `in_flight_max` requests per instance and a
    # short queue, a fast 503 OVERLOADED with Retry-After (sizes chosen by `make bench-fleet`).
    # Concurrency, not rate: a payment uses the whole fleet, and on two cores more than a few
    # at once only queue inside it (at 48 per instance a 3x overload timed every one out).
    # 16 per instance admits a burst of 30 payments at once on an idle fleet (a queued
    # request waits only `admission_wait_ms`, less than a payment takes, so the queue alone
    # cannot absorb a burst); a saturated fleet then answers admitted payments within a
    # second, well inside their deadline, and sheds the rest fast. 12 shed a few payments
    # even at the sustained rate (at capacity a payment takes ~250 ms: 55/s keeps ~14 in
    # flight, and bursts passed 24): docs/benchmarks.md.
    request_budget_ms_default: int = 30_000
    in_flight_max: int = 16
    admission_queue_max: int = 16
    admission_wait_ms: int = 50

    def secrets_to_check(self) -> dict[str, str]:
        return {
            "JWT_SECRET": self.jwt_secret.get_secret_value(),
            "JWT_PRIVATE_KEY": self.jwt_private_key.get_secret_value(),
            "JWE_PRIVATE_KEY": self.jwe_private_key.get_secret_value(),
        }


async def _key(pool: asyncpg.Pool, use: str, configured: SecretStr) -> KeyPair:
    if configured.get_secret_value():
        return key_pair_from_pem(configured.get_secret_value())
    async with pool.acquire() as conn:
        stored = await store.get_key(conn, use)
    if stored is None:  # first start: make one; a racing instance's candidate may win instead
        candidate = await asyncio.to_thread(new_key_pair)
        async with pool.acquire() as conn:
            stored = await store.get_or_create_key(conn, use, candidate.kid, candidate.private_pem)
    kid, pem = stored
    return KeyPair(kid=kid, private_pem=pem)


async def _answers(app: FastAPI, upstream: str) -> bool:
    return await app.state.upstreams[upstream].alive()  # type: ignore[no-any-return]


def create_app(
    settings: GatewaySettings | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or GatewaySettings()
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS, use_redis=True) as resources:
            pool, redis = resources.require_pool(), resources.require_redis()
            app.state.auth = AuthDeps(
                pool=pool,
                redis=redis,
                signing_key=await _key(pool, "sig", settings.jwt_private_key),
                config=AuthConfig(
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    access_ttl_s=settings.access_token_ttl_s,
                    refresh_ttl_s=settings.refresh_token_ttl_s,
                    refresh_family_ttl_s=settings.refresh_family_ttl_s,
                    token_pepper=settings.jwt_secret.get_secret_value().encode(),
                ),
            )
            app.state.encryption_key = await _key(pool, "enc", settings.jwe_private_key)
            app.state.rate_limits = RateLimits(
                redis,
                settings.redis_url,
                login=settings.rate_limit_login,
                login_user=settings.rate_limit_login_user,
                user=settings.rate_limit_user,
                ip=settings.rate_limit_ip,
            )
            app.state.health_dependencies.add("redis", lambda: kv.ping(redis))
            app.state.health_dependencies.add("confirm_service", lambda: _answers(app, "confirm"))
            app.state.upstreams = {
                "confirm": Upstream(
                    "confirm",
                    settings.confirm_service_url,
                    settings.upstream_timeout_s,
                    transports.get("confirm"),
                    app.state.identity,
                ),
                "account": Upstream(
                    "account",
                    settings.account_service_url,
                    5.0,
                    transports.get("account"),
                    app.state.identity,
                ),
                "notification": Upstream(
                    "notification",
                    settings.notification_service_url,
                    5.0,
                    transports.get("notification"),
                    app.state.identity,
                ),
            }
            try:
                yield
            finally:
                await asyncio.gather(*(u.aclose() for u in app.state.upstreams.values()))

    app = create_service_app(
        settings,
        title="API Gateway",
        description="Public entry point: auth, rate limits, JWE, proxy to the payment services.",
        lifespan=lifespan,
    )
    install_headers(app)
    app.include_router(api.router)
    if not settings.is_production:
        app.include_router(api.dev_router)
    return app
