"""Postgres access: an asyncpg pool bound to the service's own schema, SQL migrations run
by yoyo-migrations, and the dev seed data applied after them in development only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .config import ServiceSettings

log = logging.getLogger("paykit.db")
# The migrations paykit itself ships (outbox, inbox, idempotency keys), applied into the
# schema of each service that uses them.
PAYKIT_MIGRATIONS = Path(__file__).parent / "migrations"


def _check_schema_name(schema: str) -> str:
    if not schema.replace("_", "").isalnum() or not schema[0].isalpha():
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


class _FleetConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that needs no reset query when it goes back to the pool.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` on every release: one more round trip for every `pool.acquire()`, a dozen
    per payment across the fleet. The fleet never leaves session state behind: its advisory
    locks are transaction-scoped (`pg_advisory_xact_lock`), it sets no session settings after
    connecting (search_path and timeouts are startup parameters), keeps no cursor outside a
    transaction and LISTENs to nothing. asyncpg still rolls back an open transaction on
    release. A service that starts using session state must not use this pool.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(settings: ServiceSettings) -> asyncpg.Pool:
    schema = _check_schema_name(settings.schema_name)
    pool = await asyncpg.create_pool(
        dsn=settings.postgres_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout_s,
        command_timeout=settings.db_statement_timeout_ms / 1000 + 1,
        connection_class=_FleetConnection,
        server_settings={
            "search_path": schema,
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": "60000",
            "application_name": settings.service_name,
        },
    )
    assert pool is not None
    return pool


def yoyo_url(postgres_url: str, schema: str) -> str:
    """asyncpg URL -> the psycopg URL yoyo wants, pinned to the service's schema."""
    parts = urlsplit(postgres_url)
    scheme = "postgresql+psycopg"
    query = dict(parse_qsl(parts.query))
    query["schema"] = _check_schema_name(schema)
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def apply_migrations(postgres_url: str, schema: str, sources: Sequence[Path]) -> int:
    """Apply every pending migration under `sources` (paykit's first); returns how many ran."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(postgres_url, schema))
    try:
        migrations = read_migrations(*[str(p) for p in sources if p.is_dir()])
        with backend.lock(timeout=60):
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
            return len(pending)
    finally:
        backend.connection.close()


async def prepare_database(
    settings: ServiceSettings, migrations_dir: Path, *, with_paykit: bool = True
) -> asyncpg.Pool:
    """Migrate the service's schema, seed dev data when asked, and open the pool."""
    sources = ([PAYKIT_MIGRATIONS] if with_paykit else []) + [migrations_dir]
    applied = await asyncio.to_thread(apply_migrations, settings.postgres_url, settings.schema_name, sources)
    if applied:
        log.info("applied %d migrations to schema %s", applied, settings.schema_name)
    pool = await create_pool(settings)
    if settings.dev_seed_file and not settings.is_production:
        await apply_seed(pool, Path(settings.dev_seed_file))
    return pool


async def apply_seed(pool: asyncpg.Pool, seed_file: Path) -> None:
    """Dev data, written to be idempotent (ON CONFLICT DO NOTHING), in one transaction."""
    try:
        sql = await asyncio.to_thread(seed_file.read_text)
    except FileNotFoundError:
        log.warning("dev seed file %s not found; skipping", seed_file)
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(sql)
    log.info("dev seed %s applied", seed_file.name)


async def ping(pool: asyncpg.Pool | None, timeout_s: float = 1.0) -> bool:
    if pool is None:
        return False
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        return True
    except Exception:
        return False
