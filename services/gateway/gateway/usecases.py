"""Login, refresh and logout. One transaction each; Redis only for revoked access tokens."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from paykit.errors import ProblemError
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import store
from .domain import (
    AccessTokenVerifier,
    KeyPair,
    Principal,
    TokenError,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)

LOGINS = Counter("gateway_logins_total", "Login attempts", ["result"])
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as much as a
# wrong password and timing does not reveal which usernames exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
REVOKED_PREFIX = "gateway:revoked:"


@dataclass
class AuthConfig:
    issuer: str
    audience: str
    access_ttl_s: int
    refresh_ttl_s: int
    token_pepper: bytes
    # A login's absolute lifetime: refresh rotation never extends a session past it.
    refresh_family_ttl_s: int = 30 * 24 * 3600


@dataclass
class AuthDeps:
    pool: asyncpg.Pool
    redis: Redis
    signing_key: KeyPair
    config: AuthConfig

    @cached_property
    def verifier(self) -> AccessTokenVerifier:
        return AccessTokenVerifier(self.signing_key, issuer=self.config.issuer, audience=self.config.audience)


def _invalid_credentials() -> ProblemError:
    return ProblemError(401, "INVALID_CREDENTIALS", "Username or password is wrong")


async def login(deps: AuthDeps, username: str, password: str) -> dict[str, Any]:
    async with deps.pool.acquire() as conn:
        user = await store.get_user(conn, username)
    hashed = user.password_hash if user and not user.disabled else _DUMMY_HASH
    try:
        # argon2 is CPU-heavy by design: keep it off the event loop.
        await asyncio.to_thread(_HASHER.verify, hashed, password)
    except (VerificationError, InvalidHashError):
        LOGINS.labels("rejected").inc()
        raise _invalid_credentials() from None
    if user is None or user.disabled:
        LOGINS.labels("rejected").inc()
        raise _invalid_credentials()
    async with deps.pool.acquire() as conn, conn.transaction():
        if _HASHER.check_needs_rehash(user.password_hash):
            await store.update_password_hash(conn, username, await asyncio.to_thread(_HASHER.hash, password))
        tokens = await _issue_tokens(conn, deps, user.username, user.customer_id, user.roles, family=None)
    LOGINS.labels("accepted").inc()
    return tokens


async def _issue_tokens(
    conn: asyncpg.Connection,
    deps: AuthDeps,
    username: str,
    customer_id: str,
    roles: list[str],
    family: asyncpg.Record | None,
) -> dict[str, Any]:
    """Tokens for a new login (`family` None) or a rotation within `family`."""
    cfg = deps.config
    access, ttl = issue_access_token(
        deps.signing_key,
        username=username,
        customer_id=customer_id,
        roles=roles,
        issuer=cfg.issuer,
        audience=cfg.audience,
        ttl_s=cfg.access_ttl_s,
    )
    refresh = new_refresh_token()
    await store.insert_refresh_token(
        conn,
        hash_refresh_token(refresh, cfg.token_pepper),
        username,
        family["family_id"] if family else secrets.token_hex(16),
        cfg.refresh_ttl_s,
        family["family_expires_at"] if family else None,
        cfg.refresh_family_ttl_s,
    )
    return {
        "success": True,
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
        "refresh_expires_in": cfg.refresh_ttl_s,
        "customer_id": customer_id,
    }


async def refresh(deps: AuthDeps, refresh_token: str) -> dict[str, Any]:
    """Rotate: a refresh token works once. Using one twice revokes its whole family
    (it was stolen, or replayed), so neither the thief nor the owner keeps a session."""
    reused = False
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.use_refresh_token(conn, hash_refresh_token(refresh_token, deps.config.token_pepper))
        if row is None or row["expired"] or row["revoked"]:
            raise ProblemError(401, "INVALID_REFRESH_TOKEN", "The refresh token is not valid")
        if row["reused"]:
            # Committed before we answer: the revocation must outlive this request.
            await store.revoke_family(conn, row["family_id"])
            reused = True
        else:
            user = await store.get_user(conn, row["username"])
            if user is not None and not user.disabled:
                return await _issue_tokens(conn, deps, user.username, user.customer_id, user.roles, row)
    if reused:
        raise ProblemError(401, "REFRESH_TOKEN_REUSED", "The refresh token was already used; log in again")
    raise ProblemError(401, "INVALID_REFRESH_TOKEN", "The refresh token is not valid")


async def logout(deps: AuthDeps, principal: Principal, refresh_token: str | None) -> None:
    remaining_s = max(1, principal.expires_at - int(time.time()))
    try:
        await deps.redis.set(revocation_key(principal), b"1", ex=remaining_s)
    except (RedisError, OSError, TimeoutError) as exc:
        # The token stays valid: say so with a retryable 503, never a 500 or a silent 204.
        raise ProblemError(
            503, "LOGOUT_UNAVAILABLE", "The token cannot be revoked now; it is still valid. Retry"
        ) from exc
    if refresh_token:
        async with deps.pool.acquire() as conn, conn.transaction():
            family = await store.revoke_token(
                conn, hash_refresh_token(refresh_token, deps.config.token_pepper)
            )
            if family:
                await store.revoke_family(conn, family)


def verify_token(deps: AuthDeps, authorization: str | None) -> Principal:
    """The bearer token's principal, checked here without I/O; whether it was revoked is
    `revocation_key`'s question, asked in the caller's rate-limit round trip."""
    if not authorization:
        raise ProblemError(
            401,
            "ACCESS_TOKEN_REQUIRED",
            "Authorization: Bearer <token> is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401,
            "ACCESS_TOKEN_REQUIRED",
            "Authorization: Bearer <token> is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return deps.verifier.verify(token.strip())
    except TokenError as exc:
        raise ProblemError(
            401,
            "INVALID_TOKEN",
            str(exc).capitalize(),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


def revocation_key(principal: Principal) -> str:
    """The Redis key `logout` sets for the principal's access token."""
    return REVOKED_PREFIX + principal.token_id


def token_revoked() -> ProblemError:
    return ProblemError(
        401,
        "TOKEN_REVOKED",
        "The token was revoked (logged out)",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
