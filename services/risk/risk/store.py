"""Every SQL statement of the risk service. The assessments table is append-only."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .domain import Evaluation, History

# Decisions whose amounts count against the KYC daily limit: they were (or may yet be) paid.
SPENDING_DECISIONS = ["ALLOW", "CHALLENGE"]


@dataclass(frozen=True)
class NewAssessment:
    transaction_id: str
    customer_id: str
    amount_minor: int
    currency: str
    from_account: str | None
    to_account: str | None
    rules_version: str


async def lock_customer(conn: asyncpg.Connection, customer_id: str, transaction_id: str) -> None:
    """Serialise assessments of one customer so two payments cannot both fit the daily limit,
    then those of one transaction id so two customers cannot both be its owner (the keys,
    in this order, that migration 0004's `record_assessment` takes too)."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended('risk:' || $1, 0)),
                  pg_advisory_xact_lock(hashtextextended('risk-transaction:' || $2, 0))""",
        customer_id,
        transaction_id,
    )


async def owner_and_history(
    conn: asyncpg.Connection, customer_id: str, transaction_id: str, currency: str, window_h: int
) -> tuple[str | None, History]:
    """In one round trip: the customer the transaction was first assessed for, if any; and
    the other transactions of the customer in the window (counted once however often they
    were assessed) with the sum of those whose latest decision lets them be paid (migration
    0003's `assessment_history`)."""
    row = await conn.fetchrow(
        "SELECT transactions, spent_minor, owner FROM assessment_history($1, $2, $3, $4, $5)",
        customer_id,
        transaction_id,
        currency,
        window_h,
        SPENDING_DECISIONS,
    )
    assert row is not None  # an aggregate: always one row
    owner = None if row["owner"] is None else str(row["owner"])
    return owner, History(
        other_transactions=int(row["transactions"]), daily_total_minor=int(row["spent_minor"])
    )


async def record_assessment(
    conn: asyncpg.Connection,
    new: NewAssessment,
    result: Evaluation,
    *,
    owner: str | None,
    history: History,
    window_h: int,
) -> asyncpg.Record | None:
    """Insert the assessment, under the customer's lock, only if the owner and history read
    again there are the ones `result` was evaluated from (migration 0003's
    `record_assessment`); None, and nothing stored, when they changed."""
    reasons = [{"code": r.code, "detail": r.detail, "score": r.score} for r in result.reasons]
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        SELECT * FROM record_assessment($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                                        $14, $15, $16::jsonb, $17::jsonb, $18)
        """,
        owner,
        history.other_transactions,
        history.daily_total_minor,
        window_h,
        SPENDING_DECISIONS,
        uuid.uuid4(),
        new.transaction_id,
        new.customer_id,
        new.amount_minor,
        new.currency,
        new.from_account,
        new.to_account,
        result.decision.name,
        result.risk_score,
        result.risk_level,
        json.dumps(reasons),
        json.dumps(result.factors),
        new.rules_version,
    )
    return row


async def list_assessments(conn: asyncpg.Connection, transaction_id: str, limit: int) -> list[asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT * FROM assessments WHERE transaction_id = $1 ORDER BY id DESC LIMIT $2",
        transaction_id,
        limit,
    )
    return list(rows)


def record_to_dict(row: asyncpg.Record) -> dict[str, Any]:
    created: datetime = row["created_at"]
    return {
        "assessment_id": str(row["assessment_id"]),
        "transaction_id": row["transaction_id"],
        "customer_id": row["customer_id"],
        "decision": row["decision"],
        "risk_score": row["risk_score"],
        "risk_level": row["risk_level"],
        "reasons": json.loads(row["reasons"]),
        "factors": json.loads(row["factors"]),
        "rules_version": row["rules_version"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"].strip(),
        "assessed_at": created,
    }
