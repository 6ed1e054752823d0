"""Every SQL statement of the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    conn: asyncpg.Connection,
    token_hash: str,
    username: str,
    family_id: str,
    ttl_s: int,
    family_expires_at: datetime | None,
    family_ttl_s: int,
) -> None:
    """A new refresh token; a new family (a login) ends `family_ttl_s` from now, a rotated
    token keeps its family's end and never outlives it."""
    await conn.execute(
        """INSERT INTO refresh_tokens (token_hash, username, family_id, expires_at, family_expires_at)
           SELECT $1, $2, $3, LEAST(now() + make_interval(secs => $4), f.ends), f.ends
           FROM (SELECT COALESCE($5::timestamptz, now() + make_interval(secs => $6)) AS ends) f""",
        token_hash,
        username,
        family_id,
        ttl_s,
        family_expires_at,
        family_ttl_s,
    )


async def use_refresh_token(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    """Mark a refresh token used, or say it already was (`reused`).

    `WHERE used_at IS NULL` makes the use atomic: of concurrent refreshes with one token,
    exactly one gets the row (the others wait on its lock, then find it used)."""
    row = await conn.fetchrow(
        """UPDATE refresh_tokens SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL
           RETURNING username, family_id, family_expires_at, false AS reused,
                     revoked_at IS NOT NULL AS revoked, expires_at < now() AS expired""",
        token_hash,
    )
    if row is not None:
        return row
    return await conn.fetchrow(
        """SELECT username, family_id, family_expires_at, true AS reused,
                  revoked_at IS NOT NULL AS revoked, expires_at < now() AS expired
           FROM refresh_tokens WHERE token_hash = $1""",
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
