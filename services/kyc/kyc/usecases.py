"""Use cases of the kyc service: one transaction each, the OFAC call between two of them.

Every status change writes a `kyc.<status>` CloudEvent to the outbox in the same transaction
(topic `kyc-events`, key customer id) for the audit trail. Risk keeps customers' statuses
between payments, so every use case that may change one also renews the customer's change
mark (paykit.marks) before and after: a change that cannot be announced is not made."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from paykit import ProblemError
from paykit import marks as change_marks
from paykit.events import add_to_outbox, new_event
from paykit.marks import ChangeMarks, MarksUnavailable

from . import store
from .clients import OfacClient
from .domain import (
    RESCREEN_REASON,
    VERIFIED_TIER_MIN,
    Action,
    Status,
    TransitionError,
    age_years,
    check_transition,
    decide,
    document_format_valid,
    normalize_document_number,
)
from .schemas import ReviewRequest, SanctionsHitRequest, VerificationRequest

TOPIC = "kyc-events"
SOURCE = "kyc"
AGE_MAX_YEARS = 130


@dataclass(frozen=True, slots=True)
class Policy:
    sanctioned_countries: frozenset[str]
    document_key: bytes


@dataclass(frozen=True, slots=True)
class StatusView:
    record: dict[str, Any]
    tier: dict[str, Any]


@asynccontextmanager
async def _changing(marks: ChangeMarks | None, customer_id: str) -> AsyncIterator[None]:
    """Around a use case that may change the customer's status: risk's kept answer of it is
    dropped before (no mark, no change) and again after (whatever was read meanwhile)."""
    if marks is None:
        yield
        return
    name = change_marks.kyc_status(customer_id)
    try:
        await marks.renew(name)
    except MarksUnavailable:
        raise ProblemError(
            503,
            "KYC_CHANGE_UNAVAILABLE",
            "The status change cannot be announced to risk now; nothing was changed. Retry",
            headers={"Retry-After": "1"},
        ) from None
    try:
        yield
    finally:
        await marks.renew_after(name)


def _today() -> date:
    return datetime.now(UTC).date()


async def _emit(conn: asyncpg.Connection, before: dict[str, Any], after: dict[str, Any], actor: str) -> None:
    data = {
        "customer_id": after["customer_id"],
        "status": after["status"],
        "previous_status": before["status"],
        "tier": after["tier"],
        "previous_tier": before["tier"],
        "reasons": after["reasons"],
        "verification_id": str(after["current_verification_id"] or "") or None,
        "actor": actor,
    }
    event = new_event(
        source=SOURCE, type=f"kyc.{after['status'].lower()}", subject=after["customer_id"], data=data
    )
    await add_to_outbox(conn, topic=TOPIC, key=after["customer_id"], event=event)


async def _with_tier(conn: asyncpg.Connection, record: dict[str, Any]) -> StatusView:
    tier = await store.get_tier(conn, record["tier"])
    if tier is None:  # the foreign key makes this impossible
        raise RuntimeError(f"tier {record['tier']} missing")
    return StatusView(record, tier)


async def check_status(pool: asyncpg.Pool, customer_id: str) -> StatusView:
    """Any customer has a status: one KYC has never seen is UNVERIFIED on tier 0."""
    return (await check_statuses(pool, [customer_id]))[0]


async def check_statuses(pool: asyncpg.Pool, customer_ids: list[str]) -> list[StatusView]:
    """The status of each customer (a payment's payer and payee), in the order asked."""
    async with pool.acquire() as conn:
        rows = await store.statuses(conn, customer_ids, Status.UNVERIFIED.value)
    if len(rows) != len(customer_ids):  # the tier's foreign key makes this impossible
        raise RuntimeError("a KYC record names a tier that does not exist")
    return [StatusView(row, row) for row in rows]


async def get_record(pool: asyncpg.Pool, customer_id: str) -> StatusView:
    async with pool.acquire() as conn:
        record = await store.get_record(conn, customer_id)
        if record is None:
            raise ProblemError(404, "KYC_RECORD_NOT_FOUND", "No KYC record for this customer")
        return await _with_tier(conn, record)


def _check(action: Action, current: str, target: Status) -> None:
    try:
        check_transition(action, Status(current), target)
    except TransitionError as exc:
        code = "KYC_UNDER_REVIEW" if exc.current is Status.MANUAL_REVIEW else "INVALID_KYC_TRANSITION"
        raise ProblemError(409, code, str(exc)) from None


async def submit_verification(
    pool: asyncpg.Pool,
    ofac: OfacClient,
    policy: Policy,
    customer_id: str,
    body: VerificationRequest,
    marks: ChangeMarks | None = None,
) -> StatusView:
    today = _today()
    age = age_years(body.date_of_birth, today)
    if body.date_of_birth > today or age > AGE_MAX_YEARS:
        raise ProblemError(422, "INVALID_DATE_OF_BIRTH", "The date of birth is not plausible")
    number = normalize_document_number(body.document_number)
    fingerprint = hmac.new(policy.document_key, number.encode(), hashlib.sha256).hexdigest()
    verification_id = uuid.uuid4()

    async with _changing(marks, customer_id):
        # 1. Record the submission (PENDING) before calling out.
        async with pool.acquire() as conn, conn.transaction():
            before = await store.lock_or_create_record(conn, customer_id)
            _check(Action.SUBMIT, before["status"], Status.PENDING)
            pending = await store.save_submission(
                conn,
                customer_id=customer_id,
                verification_id=verification_id,
                full_name=body.full_name,
                date_of_birth=body.date_of_birth,
                country=body.country.upper(),
                address=body.address,
                document_type=body.document_type.value,
                document_last4=number[-4:],
                document_fingerprint=fingerprint,
            )
            await _emit(conn, before, pending, actor="customer")

        # 2. Screen the name, outside any transaction.
        screening = await ofac.screen(
            customer_id,
            body.full_name,
            body.country.upper(),
            date_of_birth=body.date_of_birth,
            document_number=number,
        )

        # 3. Conclude, unless a newer submission superseded this one meanwhile.
        outcome = decide(
            document_ok=document_format_valid(body.document_type, body.document_number),
            age=age,
            country=body.country,
            sanctioned_countries=policy.sanctioned_countries,
            screening=screening,
            current_tier=before["tier"] if before["status"] == Status.VERIFIED else 0,
        )
        checks = {
            "document_format": "ok" if "DOCUMENT_FORMAT_INVALID" not in outcome.reasons else "invalid",
            "age_years": age,
            "country": body.country.upper(),
            "screening": {
                "available": screening.available,
                "is_sanctioned": screening.is_sanctioned,
                "review": screening.review,
                "list_version": screening.list_version,
                "best_score": screening.best_score,
                "best_entity_id": screening.best_entity_id,
            },
        }
        async with pool.acquire() as conn, conn.transaction():
            current = await store.lock_record(conn, customer_id)
            if current is None or current["current_verification_id"] != verification_id:
                raise ProblemError(409, "VERIFICATION_SUPERSEDED", "A newer verification replaced this one")
            _check(Action.AUTO, current["status"], outcome.status)
            await store.complete_verification(
                conn, verification_id, outcome=outcome.status.value, reasons=outcome.reasons, checks=checks
            )
            after = await store.set_status(
                conn, customer_id, status=outcome.status.value, tier=outcome.tier, reasons=outcome.reasons
            )
            await _emit(conn, current, after, actor="automatic-checks")
            return await _with_tier(conn, after)


async def review(
    pool: asyncpg.Pool,
    customer_id: str,
    action: Action,
    body: ReviewRequest,
    marks: ChangeMarks | None = None,
) -> StatusView:
    """A reviewer approves (VERIFIED, on `tier` or at least tier 1) or rejects (tier 0)."""
    async with _changing(marks, customer_id):
        target = Status.VERIFIED if action is Action.APPROVE else Status.REJECTED
        async with pool.acquire() as conn, conn.transaction():
            before = await store.lock_record(conn, customer_id)
            if before is None:
                raise ProblemError(404, "KYC_RECORD_NOT_FOUND", "No KYC record for this customer")
            _check(action, before["status"], target)
            if action is Action.APPROVE and before["status"] == Status.REJECTED and not body.note:
                raise ProblemError(422, "REVIEW_NOTE_REQUIRED", "Overruling a rejection needs a note")
            if action is Action.APPROVE:
                tier = body.tier or max(before["tier"], VERIFIED_TIER_MIN)
                reasons = ["APPROVED_BY_REVIEWER"]
            else:
                tier = 0
                reasons = ["REJECTED_BY_REVIEWER"]
            after = await store.set_status(
                conn,
                customer_id,
                status=target.value,
                tier=tier,
                reasons=reasons,
                reviewed_by=body.reviewer,
                review_note=body.note,
            )
            await _emit(conn, before, after, actor=f"reviewer:{body.reviewer}")
            return await _with_tier(conn, after)


async def record_sanctions_hit(
    pool: asyncpg.Pool, customer_id: str, body: SanctionsHitRequest, marks: ChangeMarks | None = None
) -> StatusView:
    """A changed list matches the customer: record the hits and put the customer before a
    reviewer (MANUAL_REVIEW, event on kyc-events) in one transaction. Risk refuses their
    payments until a reviewer decides. Idempotent: hits already recorded change nothing."""
    async with _changing(marks, customer_id):
        hits: list[tuple[str, str, float, str]] = [
            (m.entity_id, m.name, m.score, m.band) for m in body.matches
        ]
        async with pool.acquire() as conn, conn.transaction():
            before = await store.lock_or_create_record(conn, customer_id)
            new = await store.insert_sanctions_hits(
                conn, customer_id, body.list_name, body.list_version, body.screened_name, hits
            )
            in_review = before["status"] == Status.MANUAL_REVIEW and RESCREEN_REASON in before["reasons"]
            if new == 0 and in_review:
                return await _with_tier(conn, before)
            _check(Action.RESCREEN, before["status"], Status.MANUAL_REVIEW)
            reasons = (
                list(dict.fromkeys([*before["reasons"], RESCREEN_REASON])) if in_review else [RESCREEN_REASON]
            )
            after = await store.set_status(
                conn, customer_id, status=Status.MANUAL_REVIEW.value, tier=before["tier"], reasons=reasons
            )
            await _emit(conn, before, after, actor=f"rescreen:{body.list_name}:{body.list_version}")
            return await _with_tier(conn, after)


async def sanctions_hits(pool: asyncpg.Pool, customer_id: str, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return await store.list_sanctions_hits(conn, customer_id, limit)


async def list_tiers(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return await store.list_tiers(conn)


async def review_queue(pool: asyncpg.Pool, limit: int) -> list[StatusView]:
    async with pool.acquire() as conn:
        records = await store.list_by_status(conn, Status.MANUAL_REVIEW.value, limit)
        return [await _with_tier(conn, r) for r in records]
