"""Every SQL statement of the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    customer_id: str
    roles: list[str]
    disabled: bool


async def get_user(conn: asyncpg.Connection, username: str) -> User | None:
    row = await conn.fetchrow(
        "SELECT username, password_hash, customer_id, roles, disabled FROM users WHERE username = $1",
        username,
    )
    return User(**dict(row)) if row else None


async def update_password_hash(conn: asyncpg.Connection, username: str, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE username = $1", username, password_hash)


async def get_key(conn: asyncpg.Connection, use: str) -> tuple[str, str] | None:
    row = await conn.fetchrow("SELECT kid, private_pem FROM gateway_keys WHERE use = $1", use)
    return (row["kid"], row["private_pem"]) if row else None


async def get_or_create_key(
    conn: asyncpg.Connection, use: str, kid: str, private_pem: str
) -> tuple[str, str]:
    """The shared key for `use`; the first instance's candidate wins a race."""
    await conn.execute(
        "INSERT INTO gateway_keys (use, kid, private_pem) VALUES ($1, $2, $3) ON CONFLICT (use) DO NOTHING",
        use,
        kid,
        private_pem,
    )
    row = await conn.fetchrow("SELECT kid, private_pem FROM gateway_keys WHERE use = $1", use)
    assert row is not None
    return row["kid"], row["private_pem"]


async def insert_refresh_token(
    conn: asyncpg.Connection, token_hash: str, username: str, family_id: str, ttl_s: int
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (token_hash, username, family_id, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))""",
        token_hash,
        username,
        family_id,
        ttl_s,
    )


async def use_refresh_token(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    """Mark a refresh token used; returns its row with `reused` when it had been used before."""
    return await conn.fetchrow(
        """UPDATE refresh_tokens r SET used_at = COALESCE(r.used_at, now())
           FROM refresh_tokens old
           WHERE r.token_hash = $1 AND old.token_hash = r.token_hash
           RETURNING r.username, r.family_id, old.used_at IS NOT NULL AS reused,
                     r.revoked_at IS NOT NULL AS revoked, r.expires_at < now() AS expired""",
        token_hash,
    )


async def revoke_family(conn: asyncpg.Connection, family_id: str) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", family_id
    )


async def revoke_token(conn: asyncpg.Connection, token_hash: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 RETURNING family_id", token_hash
    )
