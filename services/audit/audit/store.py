"""Every SQL statement of the audit service. The log is only ever INSERTed into."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .domain import Checkpoint, Entry, StoredEntry

# pg_advisory_xact_lock key that serializes appends so the chain never forks.
CHAIN_LOCK_KEY = 0x4155_4449_5401  # "AUDIT" + 1
_COLUMNS = (
    "id, event_id, topic, event_type, source, subject, transaction_id, customer_id, "
    "data::text AS data, event_time, recorded_at, prev_hash, hash"
)


async def lock_chain(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CHAIN_LOCK_KEY)


async def chain_head(conn: asyncpg.Connection) -> tuple[int, str] | None:
    row = await conn.fetchrow("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    return (int(row["id"]), str(row["hash"])) if row else None


@dataclass(frozen=True, slots=True)
class AppendContext:
    """What appending needs to know, read in one round trip once the chain is locked."""

    known: set[str]  # the event ids asked about that the log already holds
    head: tuple[int, str] | None  # (id, hash) of the last entry
    datas: list[dict[str, Any]]  # each data as JSONB gives it back (numbers, keys), for hashing


async def append_context(
    conn: asyncpg.Connection, event_ids: Sequence[str], datas: Sequence[dict[str, Any]]
) -> AppendContext:
    row = await conn.fetchrow(
        """SELECT (SELECT array_agg(event_id) FROM audit_log WHERE event_id = ANY($1::text[])) AS known,
                  (SELECT array_agg(d::jsonb::text ORDER BY n)
                     FROM unnest($2::text[]) WITH ORDINALITY AS u(d, n)) AS datas,
                  head.id, head.hash
           FROM (SELECT 1) AS one
           LEFT JOIN LATERAL (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) AS head ON true""",
        list(event_ids),
        [json.dumps(d) for d in datas],
    )
    return AppendContext(
        known=set(row["known"] or ()),
        head=(int(row["id"]), str(row["hash"])) if row["id"] is not None else None,
        datas=[json.loads(text) for text in row["datas"] or ()],
    )


# One statement per batch, whatever its size: the entries, then any checkpoints that fall in
# it (ordinality keeps their ids in chain order). Nothing references a checkpoint row, so
# inserting both in one statement is the same as two.
_INSERT_ENTRIES = """
WITH entries AS (
    INSERT INTO audit_log (id, event_id, topic, event_type, source, subject, transaction_id,
                           customer_id, data, event_time, recorded_at, prev_hash, hash)
    SELECT id, event_id, topic, event_type, source, subject, transaction_id,
           customer_id, data::jsonb, event_time, recorded_at, prev_hash, hash
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
         AS u(id, event_id, topic, event_type, source, subject, transaction_id,
              customer_id, data, event_time, recorded_at, prev_hash, hash)
)
INSERT INTO audit_checkpoints (head_id, head_hash, signature)
SELECT head_id, head_hash, signature
FROM unnest($14::bigint[], $15::text[], $16::text[]) WITH ORDINALITY AS c(head_id, head_hash, signature, n)
ORDER BY n
"""


def _entry_args(stored: StoredEntry) -> tuple[Any, ...]:
    entry = stored.entry
    return (
        entry.id,
        entry.event_id,
        entry.topic,
        entry.event_type,
        entry.source,
        entry.subject,
        entry.transaction_id,
        entry.customer_id,
        json.dumps(entry.data),
        entry.event_time,
        entry.recorded_at,
        entry.prev_hash,
        stored.hash,
    )


async def insert_entries(
    conn: asyncpg.Connection, entries: Sequence[StoredEntry], checkpoints: Sequence[Checkpoint] = ()
) -> None:
    """Append `entries` and their `checkpoints` in one round trip."""
    if not entries:
        return
    entry_columns = [list(column) for column in zip(*(_entry_args(e) for e in entries), strict=True)]
    await conn.execute(
        _INSERT_ENTRIES,
        *entry_columns,
        [c.head_id for c in checkpoints],
        [c.head_hash for c in checkpoints],
        [c.signature for c in checkpoints],
    )


def _stored(row: asyncpg.Record) -> StoredEntry:
    entry = Entry(
        id=row["id"],
        event_id=row["event_id"],
        topic=row["topic"],
        event_type=row["event_type"],
        source=row["source"],
        subject=row["subject"],
        transaction_id=row["transaction_id"],
        customer_id=row["customer_id"],
        data=json.loads(row["data"]),
        event_time=row["event_time"],
        recorded_at=row["recorded_at"],
        prev_hash=row["prev_hash"],
    )
    return StoredEntry(entry, row["hash"])


async def entries_after(conn: asyncpg.Connection, after_id: int, limit: int) -> list[StoredEntry]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2", after_id, limit
    )
    return [_stored(r) for r in rows]


async def find_entries(
    conn: asyncpg.Connection,
    *,
    transaction_id: str | None,
    customer_id: str | None,
    event_type: str | None,
    after_id: int,
    limit: int,
) -> list[StoredEntry]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM audit_log
            WHERE ($1::text IS NULL OR transaction_id = $1)
              AND ($2::text IS NULL OR customer_id = $2)
              AND ($3::text IS NULL OR event_type = $3)
              AND id > $4
            ORDER BY id LIMIT $5""",
        transaction_id,
        customer_id,
        event_type,
        after_id,
        limit,
    )
    return [_stored(r) for r in rows]


async def index_cursor(conn: asyncpg.Connection, index_name: str) -> int:
    """The id of the last entry the search index holds (0: none yet)."""
    last = await conn.fetchval("SELECT last_id FROM search_index_cursor WHERE index_name = $1", index_name)
    return int(last or 0)


async def advance_index_cursor(conn: asyncpg.Connection, index_name: str, last_id: int) -> None:
    """Move the cursor forward only (a slower, older indexer never moves it back)."""
    await conn.execute(
        """INSERT INTO search_index_cursor (index_name, last_id) VALUES ($1, $2)
           ON CONFLICT (index_name) DO UPDATE
              SET last_id = GREATEST(search_index_cursor.last_id, EXCLUDED.last_id), updated_at = now()""",
        index_name,
        last_id,
    )


async def last_entry_id(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM audit_log"))


_INSERT_CHECKPOINT = "INSERT INTO audit_checkpoints (head_id, head_hash, signature) VALUES ($1, $2, $3)"


async def insert_checkpoint(conn: asyncpg.Connection, checkpoint: Checkpoint) -> None:
    await conn.execute(_INSERT_CHECKPOINT, checkpoint.head_id, checkpoint.head_hash, checkpoint.signature)


async def checkpoints(conn: asyncpg.Connection) -> list[Checkpoint]:
    rows = await conn.fetch("SELECT head_id, head_hash, signature FROM audit_checkpoints ORDER BY id")
    return [Checkpoint(r["head_id"], r["head_hash"], r["signature"]) for r in rows]


async def hashes_at(conn: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, hash FROM audit_log WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r["hash"] for r in rows}
