"""Every SQL statement of the confirm service."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
from paykit.events import OutboxRow, insert_for_each
from paykit.idempotency import AnswerRow, answer_for_each

from .domain import Payment, State, Terms

_COLUMNS = """payment_id, transaction_id, customer_id, amount_minor, currency, from_account,
    to_account, state, risk_decision, risk_score, risk_reasons, failure_code, failure_detail,
    bank_reference, bank_status, created_at, updated_at, confirmed_at, completed_at, authorized_at"""


def _payment(row: asyncpg.Record) -> Payment:
    reasons = row["risk_reasons"]
    return Payment(
        payment_id=row["payment_id"],
        terms=Terms(
            customer_id=row["customer_id"],
            transaction_id=row["transaction_id"],
            amount_minor=row["amount_minor"],
            currency=row["currency"],
            from_account=row["from_account"],
            to_account=row["to_account"],
        ),
        state=State(row["state"]),
        risk_decision=row["risk_decision"],
        risk_score=row["risk_score"],
        risk_reasons=json.loads(reasons) if reasons else [],
        failure_code=row["failure_code"],
        failure_detail=row["failure_detail"],
        bank_reference=row["bank_reference"],
        bank_status=row["bank_status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        confirmed_at=row["confirmed_at"],
        completed_at=row["completed_at"],
        authorized_at=row["authorized_at"],
    )


async def insert_payment(
    conn: asyncpg.Connection,
    payment_id: str,
    terms: Terms,
    traceparent: str | None,
    event: OutboxRow,
) -> Payment | None:
    """Create the payment in REQUIRES_CONFIRMATION with its `event`, in one statement. None
    (and no event) when the customer already has a payment with that transaction id."""
    row = await conn.fetchrow(
        f"""WITH created AS (
              INSERT INTO payments (payment_id, transaction_id, customer_id, amount_minor, currency,
                                    from_account, to_account, traceparent, state)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
              ON CONFLICT (customer_id, transaction_id) DO NOTHING
              RETURNING {_COLUMNS}),
            {insert_for_each("created", 10)}
            SELECT * FROM created""",
        payment_id,
        terms.transaction_id,
        terms.customer_id,
        terms.amount_minor,
        terms.currency,
        terms.from_account,
        terms.to_account,
        traceparent,
        State.REQUIRES_CONFIRMATION.value,
        *event,
    )
    return _payment(row) if row else None


async def get_by_transaction(
    conn: asyncpg.Connection, customer_id: str, transaction_id: str
) -> Payment | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM payments WHERE customer_id = $1 AND transaction_id = $2",
        customer_id,
        transaction_id,
    )
    return _payment(row) if row else None


async def get(conn: asyncpg.Connection, payment_id: str) -> Payment | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM payments WHERE payment_id = $1", payment_id)
    return _payment(row) if row else None


async def take_lease(conn: asyncpg.Connection, payment_id: str, owner: str, lease_s: float) -> Payment | None:
    """Serialise work on one payment across requests, instances and the worker."""
    row = await conn.fetchrow(
        f"""UPDATE payments SET lease_until = now() + make_interval(secs => $2), lease_owner = $3
            WHERE payment_id = $1 AND (lease_until IS NULL OR lease_until < now())
            RETURNING {_COLUMNS}""",
        payment_id,
        lease_s,
        owner,
    )
    return _payment(row) if row else None


async def renew_lease(conn: asyncpg.Connection, payment_id: str, owner: str, lease_s: float) -> bool:
    """Push the lease out while work goes on; False when the lease is no longer ours."""
    status = await conn.execute(
        """UPDATE payments SET lease_until = now() + make_interval(secs => $2)
            WHERE payment_id = $1 AND lease_owner = $3 AND lease_until IS NOT NULL""",
        payment_id,
        lease_s,
        owner,
    )
    return bool(status.endswith(" 1"))


async def release_lease(conn: asyncpg.Connection, payment_id: str, owner: str) -> None:
    """Only the owner releases: a stale holder whose lease ran out changes nothing."""
    await conn.execute(
        """UPDATE payments SET lease_until = NULL, lease_owner = NULL
            WHERE payment_id = $1 AND lease_owner = $2""",
        payment_id,
        owner,
    )


async def authorize(conn: asyncpg.Connection, payment_id: str) -> Payment | None:
    row = await conn.fetchrow(
        f"""UPDATE payments SET authorized_at = COALESCE(authorized_at, now())
            WHERE payment_id = $1 RETURNING {_COLUMNS}""",
        payment_id,
    )
    return _payment(row) if row else None


async def transition(
    conn: asyncpg.Connection,
    payment_id: str,
    expected: State,
    target: State,
    *,
    event: OutboxRow,
    release_lease_of: str | None = None,
    answer: AnswerRow | None = None,
    completed_at: datetime | None = None,
    **fields: Any,
) -> Payment | None:
    """Compare-and-set the state, writing `event` in the same statement; None (and no event)
    if the payment was no longer in `expected`. With
    `release_lease_of`, the lease is released in the same statement if that owner holds it
    (a payment's last state change needs no statement of its own to let it go). With
    `answer`, the running request's answer is stored in the same statement too (no
    transaction of several statements). `completed_at` is the time a move to COMPLETED
    records (the database's clock when not given): an answer written with the change says
    when the payment was confirmed, so that time is known before the statement runs."""
    allowed = {
        "risk_decision",
        "risk_score",
        "risk_reasons",
        "failure_code",
        "failure_detail",
        "bank_reference",
        "bank_status",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not a payment field: {unknown}")
    sets = ["state = $3"]
    values: list[Any] = [payment_id, expected.value, target.value]
    for name, value in fields.items():
        values.append(json.dumps(value) if name == "risk_reasons" else value)
        sets.append(f"{name} = ${len(values)}")
    if release_lease_of is not None:
        values.append(release_lease_of)
        mine = f"lease_owner = ${len(values)}"
        sets.append(f"lease_until = CASE WHEN {mine} THEN NULL ELSE lease_until END")
        sets.append(f"lease_owner = CASE WHEN {mine} THEN NULL ELSE lease_owner END")
    if target is State.COMPLETED:
        at = "now()"
        if completed_at is not None:
            values.append(completed_at)
            at = f"${len(values)}::timestamptz"
        sets.append(f"completed_at = {at}")
        sets.append(f"confirmed_at = COALESCE(confirmed_at, {at})")
    answered = "" if answer is None else f"{answer_for_each('moved', len(values) + 6)},"
    row = await conn.fetchrow(
        f"""WITH moved AS (
              UPDATE payments SET {", ".join(sets)} WHERE payment_id = $1 AND state = $2
              RETURNING {_COLUMNS}),
            {answered}
            {insert_for_each("moved", len(values) + 1)}
            SELECT * FROM moved""",
        *values,
        *event,
        *(answer or ()),
    )
    return _payment(row) if row else None


async def move_through(
    conn: asyncpg.Connection,
    payment_id: str,
    expected: State,
    steps: list[State],
    events: list[OutboxRow],
) -> Payment | None:
    """Compare-and-set through `steps` (no fields change), each step with its event, in one
    statement: all of them or none. None (and no event) if the payment was not in
    `expected`; a step that cannot follow the one before raises and undoes them all."""
    if not steps or len(steps) != len(events):
        raise ValueError("one event per step")
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM move_payment_through($1, $2, $3::text[], $4::text[], $5::text[],
                                                        $6::text[], $7::text[], $8::text[])""",
        payment_id,
        expected.value,
        [step.value for step in steps],
        *([list(column) for column in zip(*events, strict=True)]),
    )
    return _payment(row) if row else None


async def record_risk(
    conn: asyncpg.Connection, payment_id: str, decision: str, score: int, reasons: list[dict[str, Any]]
) -> None:
    await conn.execute(
        "UPDATE payments SET risk_decision = $2, risk_score = $3, risk_reasons = $4 WHERE payment_id = $1",
        payment_id,
        decision,
        score,
        json.dumps(reasons),
    )


async def set_bank_status(
    conn: asyncpg.Connection, payment_id: str, bank_status: str, bank_reference: str | None
) -> None:
    await conn.execute(
        "UPDATE payments SET bank_status = $2, bank_reference = COALESCE($3, bank_reference)"
        " WHERE payment_id = $1",
        payment_id,
        bank_status,
        bank_reference,
    )


async def unresolved(
    conn: asyncpg.Connection, older_than_s: float, wait_expiry_s: float, limit: int
) -> list[tuple[str, str | None]]:
    """Every payment that may hold money and that no request is finishing: FUNDS_HELD and
    PROCESSING; allowed by risk but never held; authorized by OTP or review but never held
    (an answer lost on the way); and payments that waited on a person past `wait_expiry_s`
    (to be expired, releasing anything held). With the trace each was created in."""
    rows = await conn.fetch(
        """SELECT payment_id, traceparent FROM payments
           WHERE (state IN ('FUNDS_HELD', 'PROCESSING')
                  OR (state = 'REQUIRES_CONFIRMATION' AND risk_decision = 'ALLOW')
                  OR (state IN ('REQUIRES_OTP', 'UNDER_REVIEW')
                      AND (authorized_at IS NOT NULL
                           OR created_at < now() - make_interval(secs => $2))))
             AND updated_at < now() - make_interval(secs => $1)
             AND (lease_until IS NULL OR lease_until < now())
           ORDER BY updated_at LIMIT $3""",
        older_than_s,
        wait_expiry_s,
        limit,
    )
    return [(r["payment_id"], r["traceparent"]) for r in rows]


async def history(conn: asyncpg.Connection, payment_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT from_state, to_state, reason, at FROM payment_history WHERE payment_id = $1 ORDER BY id",
        payment_id,
    )
    return [
        {"from": r["from_state"], "to": r["to_state"], "reason": r["reason"], "at": r["at"].isoformat()}
        for r in rows
    ]


async def list_for_customer(conn: asyncpg.Connection, customer_id: str, limit: int) -> list[Payment]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM payments WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
        customer_id,
        limit,
    )
    return [_payment(r) for r in rows]


async def list_in_state(conn: asyncpg.Connection, state: State, limit: int) -> list[Payment]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM payments WHERE state = $1 ORDER BY created_at LIMIT $2", state.value, limit
    )
    return [_payment(r) for r in rows]


async def states_of(conn: asyncpg.Connection, payment_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT payment_id, state FROM payments WHERE payment_id = ANY($1::text[])", payment_ids
    )
    return {r["payment_id"]: r["state"] for r in rows}


async def completed_between(
    conn: asyncpg.Connection, after: datetime, until: datetime, limit: int
) -> list[str]:
    rows = await conn.fetch(
        """SELECT payment_id FROM payments WHERE state = 'COMPLETED' AND completed_at > $1
            AND completed_at <= $2 ORDER BY completed_at LIMIT $3""",
        after,
        until,
        limit,
    )
    return [r["payment_id"] for r in rows]
