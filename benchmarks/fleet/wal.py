"""Commits and WAL flushes per payment, from Postgres's own counters (pg_stat_database,
pg_stat_wal) read before and after a phase: what a synchronous commit costs is a WAL flush,
so these say how many a payment causes. Counters are flushed by each backend about once a
second, so a phase's figures are exact to within a second's worth of work."""

from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("xact_commit", "wal_records", "wal_bytes", "wal_write", "wal_sync")


@dataclass(frozen=True)
class Snapshot:
    values: dict[str, float]


def snapshot(superuser_url: str) -> Snapshot:
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(
            """SELECT (SELECT sum(xact_commit) FROM pg_stat_database),
                      wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal"""
        ).fetchone()
    assert row is not None  # pg_stat_wal always has its one row
    return Snapshot(dict(zip(FIELDS, (float(v) for v in row), strict=True)))


def per_payment(before: Snapshot, after: Snapshot, payments: int) -> str:
    """One line: each counter's growth per payment."""
    parts = [f"{name} {(after.values[name] - before.values[name]) / max(payments, 1):.1f}" for name in FIELDS]
    return "per payment (pg_stat_database, pg_stat_wal): " + ", ".join(parts)


def checkpoints(superuser_url: str) -> int:
    """Checkpoints completed so far (timed and requested; Postgres counts one when it ends,
    and spreads its writes over most of `checkpoint_timeout`, so one in progress during a
    phase shows only once it completes)."""
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").fetchone()
    assert row is not None
    return int(row[0])
