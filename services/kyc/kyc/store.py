"""Every SQL statement of the kyc service."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg

_RECORD_COLUMNS = """customer_id, status, tier, full_name, date_of_birth, country, address,
    document_type, document_last4, reasons, current_verification_id, reviewed_by, review_note,
    version, created_at, updated_at"""


def _record(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(row)
    record["reasons"] = json.loads(record["reasons"])
    return record


async def get_record(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_RECORD_COLUMNS} FROM kyc_records WHERE customer_id = $1", customer_id
    )
    return _record(row)


async def statuses(
    conn: asyncpg.Connection, customer_ids: list[str], unknown_status: str
) -> list[dict[str, Any]]:
    """Status, tier, reasons and tier limits of each customer, in the order asked, in one
    round trip; a customer without a record has `unknown_status` on tier 0."""
    rows = await conn.fetch(
        """SELECT ids.customer_id, COALESCE(r.status, $2) AS status, COALESCE(r.tier, 0) AS tier,
                  COALESCE(r.reasons, '[]'::jsonb) AS reasons,
                  t.name, t.currency, t.per_payment_minor, t.daily_minor
             FROM unnest($1::text[]) WITH ORDINALITY AS ids (customer_id, n)
             LEFT JOIN kyc_records r USING (customer_id)
             JOIN kyc_tiers t ON t.tier = COALESCE(r.tier, 0)
            ORDER BY ids.n""",
        customer_ids,
        unknown_status,
    )
    return [{**dict(row), "reasons": json.loads(row["reasons"])} for row in rows]


async def lock_or_create_record(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any]:
    """The customer's record, locked for this transaction; created UNVERIFIED if absent."""
    await conn.execute(
        "INSERT INTO kyc_records (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING", customer_id
    )
    row = await conn.fetchrow(
        f"SELECT {_RECORD_COLUMNS} FROM kyc_records WHERE customer_id = $1 FOR UPDATE", customer_id
    )
    record = _record(row)
    assert record is not None  # inserted just above, rows are never deleted
    return record


async def lock_record(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_RECORD_COLUMNS} FROM kyc_records WHERE customer_id = $1 FOR UPDATE", customer_id
    )
    return _record(row)


async def save_submission(
    conn: asyncpg.Connection,
    *,
    customer_id: str,
    verification_id: uuid.UUID,
    full_name: str,
    date_of_birth: date,
    country: str,
    address: str,
    document_type: str,
    document_last4: str,
    document_fingerprint: str,
) -> dict[str, Any]:
    await conn.execute(
        "INSERT INTO kyc_verifications (verification_id, customer_id) VALUES ($1, $2)",
        verification_id,
        customer_id,
    )
    row = await conn.fetchrow(
        f"""UPDATE kyc_records SET status = 'PENDING', full_name = $2, date_of_birth = $3, country = $4,
               address = $5, document_type = $6, document_last4 = $7, document_fingerprint = $8,
               reasons = '[]'::jsonb, current_verification_id = $9, reviewed_by = NULL,
               review_note = NULL, version = version + 1, updated_at = now()
           WHERE customer_id = $1 RETURNING {_RECORD_COLUMNS}""",
        customer_id,
        full_name,
        date_of_birth,
        country,
        address,
        document_type,
        document_last4,
        document_fingerprint,
        verification_id,
    )
    record = _record(row)
    assert record is not None
    return record


async def set_status(
    conn: asyncpg.Connection,
    customer_id: str,
    *,
    status: str,
    tier: int,
    reasons: list[str],
    reviewed_by: str | None = None,
    review_note: str | None = None,
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""UPDATE kyc_records SET status = $2, tier = $3, reasons = $4::jsonb, reviewed_by = $5,
               review_note = $6, version = version + 1, updated_at = now()
           WHERE customer_id = $1 RETURNING {_RECORD_COLUMNS}""",
        customer_id,
        status,
        tier,
        json.dumps(reasons),
        reviewed_by,
        review_note,
    )
    record = _record(row)
    assert record is not None
    return record


async def complete_verification(
    conn: asyncpg.Connection,
    verification_id: uuid.UUID,
    *,
    outcome: str,
    reasons: list[str],
    checks: dict[str, Any],
) -> None:
    await conn.execute(
        """UPDATE kyc_verifications SET completed_at = now(), outcome = $2, reasons = $3::jsonb,
               checks = $4::jsonb WHERE verification_id = $1""",
        verification_id,
        outcome,
        json.dumps(reasons),
        json.dumps(checks),
    )


async def get_tier(conn: asyncpg.Connection, tier: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT tier, name, currency, per_payment_minor, daily_minor FROM kyc_tiers WHERE tier = $1", tier
    )
    return dict(row) if row is not None else None


async def list_tiers(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT tier, name, currency, per_payment_minor, daily_minor FROM kyc_tiers ORDER BY tier"
    )
    return [dict(r) for r in rows]


async def list_by_status(conn: asyncpg.Connection, status: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_RECORD_COLUMNS} FROM kyc_records WHERE status = $1 ORDER BY updated_at LIMIT $2",
        status,
        limit,
    )
    return [r for r in (_record(row) for row in rows) if r is not None]


async def insert_sanctions_hits(
    conn: asyncpg.Connection,
    customer_id: str,
    list_name: str,
    list_version: str,
    screened_name: str,
    hits: list[tuple[str, str, float, str]],
) -> int:
    """Record (entity_id, entity_name, score, band) hits; returns how many were new."""
    inserted = 0
    for entity_id, entity_name, score, band in hits:
        row = await conn.fetchrow(
            """INSERT INTO kyc_sanctions_hits
                   (customer_id, list_name, list_version, entity_id, entity_name, score, band, screened_name)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT DO NOTHING RETURNING entity_id""",
            customer_id,
            list_name,
            list_version,
            entity_id,
            entity_name,
            score,
            band,
            screened_name,
        )
        inserted += row is not None
    return inserted


async def list_sanctions_hits(conn: asyncpg.Connection, customer_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT list_name, list_version, entity_id, entity_name, score::float8 AS score, band,
                  screened_name, created_at
             FROM kyc_sanctions_hits WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2""",
        customer_id,
        limit,
    )
    return [dict(r) for r in rows]
