"""Payment rules: the state machine, what a risk decision or a bank answer means for a
payment, and the seed-shaped answers. Pure: no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from paykit.money import format_minor


class State(StrEnum):
    REQUIRES_CONFIRMATION = "REQUIRES_CONFIRMATION"
    REQUIRES_OTP = "REQUIRES_OTP"
    UNDER_REVIEW = "UNDER_REVIEW"
    FUNDS_HELD = "FUNDS_HELD"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    DECLINED = "DECLINED"


TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.DECLINED})
# States in which a payment waits on its customer (OTP) or an operator (review).
WAITING = frozenset({State.REQUIRES_OTP, State.UNDER_REVIEW})
# Mirrors payment_state_transitions in the migration; the database has the last word.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUIRES_CONFIRMATION: frozenset(
        {State.DECLINED, State.UNDER_REVIEW, State.REQUIRES_OTP, State.FUNDS_HELD, State.FAILED}
    ),
    State.REQUIRES_OTP: frozenset({State.FUNDS_HELD, State.FAILED, State.DECLINED}),
    State.UNDER_REVIEW: frozenset({State.FUNDS_HELD, State.DECLINED, State.FAILED}),
    State.FUNDS_HELD: frozenset({State.PROCESSING, State.FAILED}),
    State.PROCESSING: frozenset({State.COMPLETED, State.FAILED}),
    State.COMPLETED: frozenset(),
    State.FAILED: frozenset(),
    State.DECLINED: frozenset(),
}


def can_transition(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


class RiskDecision(StrEnum):
    ALLOW = "ALLOW"
    CHALLENGE = "CHALLENGE"
    REVIEW = "REVIEW"
    DENY = "DENY"


def state_after_risk(decision: RiskDecision) -> State | None:
    """Where risk sends a fresh payment; None means: go on and hold the funds."""
    return {
        RiskDecision.DENY: State.DECLINED,
        RiskDecision.REVIEW: State.UNDER_REVIEW,
        RiskDecision.CHALLENGE: State.REQUIRES_OTP,
        RiskDecision.ALLOW: None,
    }[decision]


def new_payment_id() -> str:
    return "PAY" + secrets.token_hex(12).upper()


@dataclass(frozen=True)
class Terms:
    """What a payment is: once stored, a confirm with the same transaction id must match."""

    customer_id: str
    transaction_id: str
    amount_minor: int
    currency: str
    from_account: str
    to_account: str

    def mismatches(self, other: Terms) -> list[str]:
        fields = ("amount_minor", "currency", "from_account", "to_account")
        return [f for f in fields if getattr(self, f) != getattr(other, f)]


@dataclass(frozen=True)
class Payment:
    payment_id: str
    terms: Terms
    state: State
    risk_decision: str | None
    risk_score: int | None
    risk_reasons: list[dict[str, Any]]
    failure_code: str | None
    failure_detail: str | None
    bank_reference: str | None
    bank_status: str | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    completed_at: datetime | None
    # Set when the customer's OTP or an operator's approval let the payment go on: it no
    # longer waits on anyone, so the resolver may finish it.
    authorized_at: datetime | None = None

    @property
    def waits_on_a_person(self) -> bool:
        return self.state in WAITING and self.authorized_at is None

    @property
    def amount(self) -> str:
        return format_minor(self.terms.amount_minor, self.terms.currency)


def payment_view(payment: Payment) -> dict[str, Any]:
    """The full resource, as GET /payments/{id} answers it."""
    t = payment.terms
    return {
        "payment_id": payment.payment_id,
        "transaction_id": t.transaction_id,
        "customer_id": t.customer_id,
        "amount": payment.amount,
        "amount_minor": t.amount_minor,
        "currency": t.currency,
        "from_account": t.from_account,
        "to_account": t.to_account,
        "state": payment.state.value,
        "risk": {
            "decision": payment.risk_decision,
            "score": payment.risk_score,
            "reasons": payment.risk_reasons,
        },
        "failure_code": payment.failure_code,
        "failure_detail": payment.failure_detail,
        "reference": payment.payment_id,
        "bank_reference": payment.bank_reference,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
        "confirmed_at": payment.confirmed_at.isoformat() if payment.confirmed_at else None,
        "completed_at": payment.completed_at.isoformat() if payment.completed_at else None,
    }


# What the seed's clients read: `status` is OTP_REQUIRED | SUCCESS (plus our PROCESSING and
# UNDER_REVIEW for payments that are not finished yet).
SEED_STATUS = {
    State.REQUIRES_OTP: "OTP_REQUIRED",
    State.COMPLETED: "SUCCESS",
    State.PROCESSING: "PROCESSING",
    State.FUNDS_HELD: "PROCESSING",
    State.UNDER_REVIEW: "UNDER_REVIEW",
    State.REQUIRES_CONFIRMATION: "REQUIRES_CONFIRMATION",
}


def seed_status(payment: Payment) -> str:
    if payment.state in WAITING and payment.authorized_at is not None:
        return "PROCESSING"  # authorized: it goes on without the customer or operator
    return SEED_STATUS.get(payment.state, payment.state.value)


def confirm_answer(payment: Payment, **extra: Any) -> tuple[int, dict[str, Any]]:
    """HTTP status and body of a confirm that did not fail."""
    t = payment.terms
    status = seed_status(payment)
    body: dict[str, Any] = {
        "status": status,
        "state": payment.state.value,
        "transaction_id": t.transaction_id,
        "payment_id": payment.payment_id,
        "reference": payment.payment_id,
        "amount": payment.amount,
        "amount_minor": t.amount_minor,
        "currency": t.currency,
        "from_account": t.from_account,
        "to_account": t.to_account,
    }
    if payment.state is State.REQUIRES_OTP:
        body["message"] = "OTP verification required"
    if payment.state is State.COMPLETED and payment.confirmed_at:
        body["confirmed_at"] = payment.confirmed_at.isoformat()
    if payment.state in (State.PROCESSING, State.FUNDS_HELD):
        body["message"] = "The bank has not confirmed the transfer yet; poll GET /payments/{id}"
    if payment.state is State.UNDER_REVIEW:
        body["message"] = "The payment is waiting for a compliance review"
    if status == "PROCESSING" and payment.state in WAITING:
        body["message"] = (
            "The payment is authorized and being processed; its outcome is not known yet. "
            "Do not pay again: poll GET /payments/{id}"
        )
    body.update(extra)
    http_status = 200 if status in ("SUCCESS", "OTP_REQUIRED") else 202
    return http_status, body
