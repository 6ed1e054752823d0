"""The payment flow. Persist before calling out: every state change is one transaction with
its outbox event; risk, OTP, account and bank calls happen between transactions, each
idempotent on the payment id, so a crash anywhere leaves a state the worker can finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from opentelemetry import propagate, trace
from paykit.errors import ProblemError
from paykit.failpoints import failpoint
from paykit.http import ServiceCallError, ServiceUnavailable
from paykit.idempotency import PendingAnswer, pending_answer
from paykit.telemetry import current_traceparent
from prometheus_client import Counter

from . import store
from .clients import (
    Account,
    AccountClient,
    BankClient,
    BankRefused,
    ChallengesExhausted,
    OtpClient,
    RiskClient,
    Transfer,
)
from .domain import (
    TERMINAL,
    WAITING,
    Payment,
    State,
    Terms,
    confirm_answer,
    new_payment_id,
    state_after_risk,
)
from .events import state_change

log = logging.getLogger("confirm.usecases")
_tracer = trace.get_tracer("confirm")
# The payment funnel: REQUIRES_CONFIRMATION (created) -> FUNDS_HELD (held) -> COMPLETED /
# FAILED / DECLINED. Every state's series exists from the start, so rates and ratios work.
PAYMENTS = Counter("payments_total", "Payments that entered a state", ["state"])
for _state in State:
    PAYMENTS.labels(_state.value)
DECLINED_DETAIL = "The payment was declined by risk and compliance checks"
# Codes with which the account service says a hold no longer holds money.
HOLD_GONE = frozenset({"HOLD_EXPIRED", "HOLD_RELEASED", "HOLD_NOT_FOUND"})


@dataclass(frozen=True)
class Limits:
    # A hold on its way to the bank lasts longer than any bank outcome can stay unknown.
    hold_expiry_s: int = 7 * 24 * 3600
    # A hold placed for a payment that waited on a person is short until it is on its way to
    # the bank: if the answer is lost there, it does not reserve the money for a week.
    hold_wait_expiry_s: int = 15 * 60
    # A payment waiting on its customer's OTP or an operator's review expires after this.
    payment_wait_expiry_s: float = 15 * 60
    lease_s: float = 30.0


@dataclass
class Deps:
    pool: asyncpg.Pool
    account: AccountClient
    risk: RiskClient
    otp: OtpClient
    bank: BankClient
    limits: Limits = field(default_factory=Limits)


Answer = tuple[int, dict[str, Any]]
# Payer and payee accounts as account named them, checked for this payment.
Parties = tuple[Account, Account]


# ---- creating --------------------------------------------------------------------------
async def create_payment(deps: Deps, terms: Terms) -> tuple[Payment, bool]:
    """The payment for (customer, transaction id): created, or the stored one if the terms match."""
    payment, created, _ = await _create_payment(deps, terms)
    return payment, created


async def _create_payment(
    deps: Deps, terms: Terms, look_first: bool = True
) -> tuple[Payment, bool, Parties | None]:
    """create_payment, with the parties account named if it was asked now (None when the
    payment was found stored). Without `look_first` (a request that nearly always creates),
    the accounts are checked and the payment inserted straight away: the insert's conflict
    says that it exists, so a new payment costs no lookup. A stored payment still gets its
    own answer when the accounts cannot be checked now (account down, an account closed
    since): a refusal of the check is final only for a payment that does not exist."""
    if look_first:
        existing = await _stored(deps, terms)
        if existing is not None:
            return existing, False, None
    try:
        parties = await _check_accounts(deps, terms)
    except ProblemError:
        existing = None if look_first else await _stored(deps, terms)
        if existing is None:
            raise
        return existing, False, None
    payment_id = new_payment_id()
    event = state_change(payment_id, terms, State.REQUIRES_CONFIRMATION, None, None)
    async with deps.pool.acquire() as conn:
        created = await store.insert_payment(conn, payment_id, terms, current_traceparent(), event)
    if created is not None:
        failpoint("after_create")
        PAYMENTS.labels(created.state.value).inc()
        return created, True, parties
    raced = await _stored(deps, terms)
    assert raced is not None  # the insert conflicted, so the row exists
    return raced, False, parties


async def _stored(deps: Deps, terms: Terms) -> Payment | None:
    """The customer's payment with that transaction id, if any; it must have these terms."""
    async with deps.pool.acquire() as conn:
        existing = await store.get_by_transaction(conn, terms.customer_id, terms.transaction_id)
    if existing is not None:
        _require_same_terms(existing, terms)
    return existing


def _require_same_terms(payment: Payment, terms: Terms) -> None:
    different = payment.terms.mismatches(terms)
    if different:
        raise ProblemError(
            422,
            "TRANSACTION_MISMATCH",
            f"Transaction {terms.transaction_id} exists with other {', '.join(different)}",
            transaction_id=terms.transaction_id,
            mismatched_fields=different,
        )


async def _check_accounts(deps: Deps, terms: Terms) -> Parties:
    try:
        # Both accounts in one call: every call costs CPU on both sides.
        payer, payee = await deps.account.get_parties(terms.from_account, terms.to_account)
    except ServiceCallError as exc:
        raise ProblemError(
            503, "ACCOUNT_SERVICE_UNAVAILABLE", "Accounts cannot be checked now; retry"
        ) from exc
    if payer is None:
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", f"Account {terms.from_account} does not exist")
    if payer.customer_id != terms.customer_id:
        raise ProblemError(403, "ACCOUNT_OWNERSHIP_MISMATCH", "You can only pay from your own account")
    if payee is None:
        raise ProblemError(404, "PAYEE_ACCOUNT_NOT_FOUND", f"Account {terms.to_account} does not exist")
    if terms.currency not in (payer.currency, payee.currency) or payer.currency != payee.currency:
        raise ProblemError(422, "CURRENCY_MISMATCH", f"Both accounts must hold {terms.currency}")
    if payer.status != "ACTIVE" or payee.status != "ACTIVE":
        raise ProblemError(422, "ACCOUNT_NOT_ACTIVE", "Both accounts must be active")
    return payer, payee


# ---- confirming ------------------------------------------------------------------------
async def confirm_payment(deps: Deps, terms: Terms, otp: str | None) -> Answer:
    # The lease is taken after the payment is created, not in its insert: a process that dies
    # in between must not lock its customer's retry out for the lease's length.
    # A confirm with a one-time code is for a payment that waited for it: look it up first.
    # Any other is nearly always a new payment's, created without a lookup.
    payment, _, parties = await _create_payment(deps, terms, look_first=otp is not None)
    if payment.state in TERMINAL:
        return _final_answer(payment)
    async with _leased(deps, payment.payment_id) as leased:
        return await _advance(deps, leased, otp, parties)


async def _advance(deps: Deps, payment: Payment, otp: str | None, parties: Parties | None = None) -> Answer:
    if payment.state is State.REQUIRES_CONFIRMATION:
        # Risk screens the parties confirm has just read instead of asking account again.
        return await _assess(deps, payment, parties)
    if payment.state in WAITING and payment.authorized_at is not None:
        return await execute(deps, payment)  # authorized before an answer was lost: go on
    if payment.state is State.REQUIRES_OTP:
        if otp is None:
            return confirm_answer(payment, **await _challenge(deps, payment))
        return await _verify_and_execute(deps, payment, otp)
    if payment.state in (State.FUNDS_HELD, State.PROCESSING):
        return _settled_answer(await settle(deps, payment))
    return _waiting_or_final_answer(payment)


def _waiting_or_final_answer(payment: Payment) -> Answer:
    if payment.state is State.UNDER_REVIEW:
        return confirm_answer(payment)
    return _final_answer(payment)


async def _assess(deps: Deps, payment: Payment, parties: Parties | None = None) -> Answer:
    try:
        risk = await deps.risk.assess(payment.payment_id, payment.terms, parties)
    except ServiceCallError as exc:
        raise ProblemError(503, "RISK_SERVICE_UNAVAILABLE", "Risk cannot be assessed now; retry") from exc
    risk_fields = {
        "risk_decision": risk.decision.value,
        "risk_score": risk.score,
        "risk_reasons": risk.reasons,
    }
    target = state_after_risk(risk.decision)
    if target is None:
        async with deps.pool.acquire() as conn:
            await store.record_risk(conn, payment.payment_id, risk.decision.value, risk.score, risk.reasons)
        failpoint("after_risk")
        return await execute(deps, payment)
    if target is State.DECLINED:
        risk_fields["failure_code"] = "RISK_DECLINED"
        risk_fields["failure_detail"] = DECLINED_DETAIL
    moved = await _move(deps, payment, target, **risk_fields)
    if moved.state is State.DECLINED:
        raise ProblemError(
            422,
            "PAYMENT_DECLINED",
            DECLINED_DETAIL,
            state=moved.state.value,
            transaction_id=moved.terms.transaction_id,
            payment_id=moved.payment_id,
            reasons=risk.reasons,
        )
    if moved.state is State.REQUIRES_OTP:
        return confirm_answer(moved, **await _challenge(deps, moved))
    return confirm_answer(moved)


async def _challenge(deps: Deps, payment: Payment) -> dict[str, Any]:
    try:
        return await deps.otp.generate(payment.payment_id, payment.terms)
    except ChallengesExhausted:
        # Past the OTP caps guessing must stop: decline (nothing is held yet); the
        # payment.declined event has the notification service tell the customer.
        declined = await _move(
            deps,
            payment,
            State.DECLINED,
            failure_code="OTP_CHALLENGES_EXHAUSTED",
            failure_detail="Too many one-time codes were requested for this payment",
        )
        raise ProblemError(
            422,
            "PAYMENT_DECLINED",
            "Too many one-time codes were requested; the payment is declined",
            state=declined.state.value,
            transaction_id=declined.terms.transaction_id,
            payment_id=declined.payment_id,
        ) from None
    except ServiceCallError as exc:
        raise ProblemError(
            503, "OTP_SERVICE_UNAVAILABLE", "The one-time code cannot be sent now; retry"
        ) from exc


async def _verify_and_execute(deps: Deps, payment: Payment, otp: str) -> Answer:
    try:
        check = await deps.otp.verify(payment.payment_id, payment.terms, otp)
    except ServiceCallError as exc:
        raise ProblemError(503, "OTP_SERVICE_UNAVAILABLE", "The one-time code cannot be checked now") from exc
    if not check.valid:
        code = check.reason or "INVALID_OTP"
        detail = {
            "OTP_LOCKED": "Too many wrong codes: this code is burned; confirm without `otp` for a new one",
            "OTP_EXPIRED": "The code expired; confirm without `otp` for a new one",
            "OTP_NOT_FOUND": "No active code for this payment; confirm without `otp` for a new one",
        }.get(code, "The one-time code is not valid")
        raise ProblemError(
            422,
            code,
            detail,
            attempts_remaining=check.attempts_remaining,
            state=payment.state.value,
            transaction_id=payment.terms.transaction_id,
        )
    return await execute(deps, await _authorize(deps, payment))


async def _authorize(deps: Deps, payment: Payment) -> Payment:
    """Record that the person it waited on let it go, before anything is held."""
    async with deps.pool.acquire() as conn:
        authorized = await store.authorize(conn, payment.payment_id)
    assert authorized is not None  # we hold its lease
    return authorized


async def execute(deps: Deps, payment: Payment) -> Answer:
    """Hold the funds, then have the bank execute the transfer. The bank is only ever asked
    to pay with a live hold behind the transfer."""
    waited = payment.state in WAITING
    ttl_s = deps.limits.hold_wait_expiry_s if waited else deps.limits.hold_expiry_s
    try:
        held_funds = await deps.account.hold(payment.payment_id, payment.terms, ttl_s)
    except ProblemError as refused:
        failed = await _move(
            deps, payment, State.FAILED, failure_code=refused.code, failure_detail=refused.detail
        )
        if refused.code in HOLD_GONE:
            return _settled_answer(failed)  # 422 PAYMENT_FAILED, reason HOLD_EXPIRED
        refused.extra.update(
            state=failed.state.value, transaction_id=failed.terms.transaction_id, payment_id=failed.payment_id
        )
        raise
    except ServiceCallError as exc:
        return _unknown_hold_answer(payment, exc)
    # Held and on its way to the bank in one transaction: nothing happens in between, so a
    # crash leaves PROCESSING for the resolver as it would have a moment later.
    held = await _move(deps, payment, State.FUNDS_HELD, State.PROCESSING)
    failpoint("after_hold")
    # A hold that was short (it waited on a person) or replayed from an earlier attempt is
    # lengthened to the bank's window before the bank is asked; a fresh long hold is not.
    fresh_long = held_funds.expires_at > datetime.now(UTC) + timedelta(seconds=ttl_s - 60)
    return _settled_answer(await settle(deps, held, hold_ready=fresh_long and not waited))


def _unknown_hold_answer(payment: Payment, exc: ServiceCallError) -> Answer:
    """The hold may or may not have been placed. The payment is authorized (risk allowed it,
    or its customer or operator did), so the resolver finishes it: the caller learns that it
    is processing, not that nothing happened."""
    if payment.state is State.REQUIRES_CONFIRMATION and payment.risk_decision is None:
        raise ProblemError(503, "ACCOUNT_SERVICE_UNAVAILABLE", "Funds cannot be reserved now; retry") from exc
    log.warning("hold outcome unknown for %s: %s", payment.payment_id, exc)
    _, body = confirm_answer(payment)
    body.update(
        status="PROCESSING",
        message="The payment is being processed; its outcome is not known yet. "
        "Do not pay again: poll GET /payments/{id}",
    )
    return 202, body


def _settled_answer(payment: Payment) -> Answer:
    if payment.state is State.FAILED:
        raise ProblemError(
            422,
            "PAYMENT_FAILED",
            payment.failure_detail or "The bank rejected the transfer",
            state=payment.state.value,
            transaction_id=payment.terms.transaction_id,
            payment_id=payment.payment_id,
            reason=payment.failure_code,
        )
    return confirm_answer(payment)


# ---- settling with the bank --------------------------------------------------------------
async def _submit(deps: Deps, payment: Payment) -> Transfer:
    """Ask the bank to pay. If it refuses the request itself (a 4xx), ask it whether the
    transfer exists: not found means it never executed, which is a rejection we can act on."""
    try:
        return await deps.bank.process_transfer(payment.payment_id, payment.terms)
    except BankRefused as refused:
        found = await deps.bank.transfer_status(payment.payment_id)
        if found.status == "NOT_FOUND":
            return Transfer("REJECTED", error_code=refused.code, message="The bank refused the transfer")
        return found


async def _hold_gone(deps: Deps, payment: Payment) -> ProblemError | None:
    """Lengthen the hold to the bank's window; the refusal when there is no live hold."""
    try:
        await deps.account.extend(payment.payment_id, deps.limits.hold_expiry_s)
    except ProblemError as refused:
        if refused.code in HOLD_GONE:
            return refused
        raise ServiceUnavailable("account", f"extend answered {refused.code}") from None
    return None


async def settle(
    deps: Deps, payment: Payment, *, inquire_first: bool = False, hold_ready: bool = False
) -> Payment:
    """FUNDS_HELD/PROCESSING -> COMPLETED or FAILED when the bank's answer is known; else stays
    PROCESSING for the worker. Never moves money twice: every call is keyed by the payment id.
    The bank is asked to pay only after the hold is confirmed live for the bank's window."""
    if payment.state is State.FUNDS_HELD:
        payment = await _move(deps, payment, State.PROCESSING)
    bank_status = payment.bank_status
    if bank_status not in ("COMPLETED", "REJECTED"):
        try:
            transfer = await deps.bank.transfer_status(payment.payment_id) if inquire_first else None
            if transfer is None or transfer.status == "NOT_FOUND":
                if not hold_ready:
                    gone = await _hold_gone(deps, payment)
                    if gone is not None:
                        return await _move(
                            deps, payment, State.FAILED, failure_code=gone.code, failure_detail=gone.detail
                        )
                transfer = await _submit(deps, payment)
        except ServiceCallError as exc:
            log.warning("bank outcome unknown for %s: %s", payment.payment_id, exc)
            return payment
        failpoint("after_bank")
        bank_status = transfer.status
        # Recorded with the final state change (or, when that cannot follow, on its own): a
        # crash before either leaves PROCESSING, which the resolver settles by asking the bank.
        bank = {"bank_status": transfer.status}
        if transfer.reference_number is not None:
            bank["bank_reference"] = transfer.reference_number
        failure = (
            transfer.error_code or "BANK_REJECTED",
            transfer.message or "The bank rejected the transfer",
        )
    else:
        bank = {}
        failure = (
            payment.failure_code or "BANK_REJECTED",
            payment.failure_detail or "The bank rejected the transfer",
        )
    try:
        if bank_status == "COMPLETED":
            try:
                await deps.account.capture(payment.payment_id)
                failpoint("after_capture")
            except ProblemError as gone:
                # The bank paid and our hold is gone: a break only an operator can mend
                # (reconciliation reports it as MISSING_IN_LEDGER). Loud, and never retried blindly.
                log.error("bank paid %s but the hold is %s", payment.payment_id, gone.code)
                return await _record_bank(deps, payment, bank)
            # A request's answer is the settled payment's: stored with its final state.
            completed = await _move_answered(deps, payment, State.COMPLETED, _settled_answer, **bank)
            failpoint("after_complete")
            return completed
        if bank_status == "REJECTED":
            await deps.account.release(payment.payment_id)
            return await _move_answered(
                deps,
                payment,
                State.FAILED,
                _settled_answer,
                failure_code=failure[0],
                failure_detail=failure[1],
                **bank,
            )
    except ServiceCallError as exc:
        log.warning("ledger not updated yet for %s: %s", payment.payment_id, exc)
    return await _record_bank(deps, payment, bank)


async def _record_bank(deps: Deps, payment: Payment, bank: dict[str, str]) -> Payment:
    """The bank's answer, kept while the payment stays PROCESSING for the resolver."""
    if bank:
        async with deps.pool.acquire() as conn:
            await store.set_bank_status(
                conn, payment.payment_id, bank["bank_status"], bank.get("bank_reference")
            )
    return payment


async def resolve_unresolved(deps: Deps, older_than_s: float, batch_size_max: int) -> int:
    """The worker's pass: finish payments left FUNDS_HELD/PROCESSING by a timeout or a crash.
    Each is finished inside the trace it was created in, so its trace tells the whole story."""
    async with deps.pool.acquire() as conn:
        found = await store.unresolved(conn, older_than_s, deps.limits.payment_wait_expiry_s, batch_size_max)
    resolved = 0
    for payment_id, traceparent in found:
        parent = propagate.extract({"traceparent": traceparent} if traceparent else {})
        with _tracer.start_as_current_span("resolve payment", context=parent) as span:
            span.set_attribute("payment.id", payment_id)
            try:
                async with _leased(deps, payment_id) as payment:
                    if payment.waits_on_a_person:
                        await expire_waiting(deps, payment)
                        resolved += 1
                    elif payment.state in (State.REQUIRES_CONFIRMATION, *WAITING):
                        await execute(deps, payment)  # the hold call is idempotent on the id
                        resolved += 1
                    else:
                        after = await settle(deps, payment, inquire_first=True)
                        resolved += after.state in TERMINAL
            except ProblemError:
                continue  # someone else holds the lease, or the hold was refused (now FAILED)
    return resolved


async def expire_waiting(deps: Deps, payment: Payment) -> Payment:
    """A payment that waited on its customer or operator too long ends FAILED, releasing
    anything an earlier attempt held (the release is idempotent; no hold is fine)."""
    try:
        await deps.account.release(payment.payment_id)
    except ServiceCallError as exc:
        raise ProblemError(503, "ACCOUNT_SERVICE_UNAVAILABLE", "retry the expiry later") from exc
    return await _move(
        deps,
        payment,
        State.FAILED,
        failure_code="PAYMENT_EXPIRED",
        failure_detail="The payment waited too long for its one-time code or review",
    )


# ---- review ------------------------------------------------------------------------------
async def review_payment(deps: Deps, payment_id: str, approve: bool, reviewer: str) -> Answer:
    async with _leased(deps, payment_id) as payment:
        if payment.state is not State.UNDER_REVIEW:
            raise ProblemError(409, "PAYMENT_NOT_UNDER_REVIEW", f"Payment is {payment.state.value}")
        if approve:
            log.info("payment %s approved by %s", payment_id, reviewer)
            return await execute(deps, await _authorize(deps, payment))
        declined = await _move(
            deps,
            payment,
            State.DECLINED,
            failure_code="REVIEW_DECLINED",
            failure_detail=f"Declined in review by {reviewer}",
        )
        return 200, {
            "status": "DECLINED",
            "state": declined.state.value,
            "payment_id": payment_id,
            "transaction_id": declined.terms.transaction_id,
        }


# ---- helpers -----------------------------------------------------------------------------
async def get_payment(
    deps: Deps, payment_id: str, customer_id: str | None
) -> tuple[Payment, list[dict[str, Any]]]:
    async with deps.pool.acquire() as conn:
        payment = await store.get(conn, payment_id)
        if payment is None and customer_id:
            payment = await store.get_by_transaction(conn, customer_id, payment_id)
        if payment is None or (customer_id and payment.terms.customer_id != customer_id):
            raise ProblemError(404, "PAYMENT_NOT_FOUND", f"No payment {payment_id}")
        return payment, await store.history(conn, payment.payment_id)


async def review_queue(deps: Deps, limit: int) -> list[Payment]:
    """Payments waiting for an operator, oldest first."""
    async with deps.pool.acquire() as conn:
        return await store.list_in_state(conn, State.UNDER_REVIEW, limit)


async def completed_between(deps: Deps, after: datetime, until: datetime, limit: int) -> list[str]:
    async with deps.pool.acquire() as conn:
        return await store.completed_between(conn, after, until, limit)


async def payment_states(deps: Deps, payment_ids: list[str]) -> dict[str, str]:
    async with deps.pool.acquire() as conn:
        return await store.states_of(conn, payment_ids)


async def list_payments(deps: Deps, customer_id: str, limit: int) -> list[Payment]:
    async with deps.pool.acquire() as conn:
        return await store.list_for_customer(conn, customer_id, limit)


async def _move(deps: Deps, payment: Payment, target: State, *then: State, **fields: Any) -> Payment:
    """Move to `target` (and on through `then`, which nothing happens between) atomically,
    each state change with its own history row and outbox event: one statement for one
    change, one transaction for several."""
    return await _apply(deps, payment, (target, *then), fields, None)


async def _move_answered(
    deps: Deps, payment: Payment, target: State, answer: Callable[[Payment], Answer], **fields: Any
) -> Payment:
    """Move to `target` as `_move` does, and store the running request's answer for the
    moved payment (`answer` of it) in the same transaction: a retry with the request's key
    then gets it even if this process dies right after the commit, and the answer needs no
    commit of its own. Without an idempotent request running, just `_move`."""
    return await _apply(deps, payment, (target,), fields, answer)


async def _apply(
    deps: Deps,
    payment: Payment,
    steps: tuple[State, ...],
    fields: dict[str, Any],
    answer: Callable[[Payment], Answer] | None,
) -> Payment:
    moved = payment
    then = steps[1:]
    lease = _HELD.get()
    if lease is not None and (lease.payment_id != payment.payment_id or steps[-1] not in TERMINAL):
        lease = None  # only a final state lets the lease go: nothing is left to do
    reason = fields.get("failure_code", payment.failure_code)
    if then and not fields and lease is None:
        moved = await _move_through(deps, payment, steps, reason)
        for step in steps:
            PAYMENTS.labels(step.value).inc()
        return moved
    pending = pending_answer() if answer is not None else None
    if pending is not None and answer is not None and not then:
        return await _move_with_answer(deps, payment, steps[0], fields, reason, lease, pending, answer)
    # A state change and its event are one statement; changes back to back, or a change and
    # the request's answer, share a transaction.
    together = bool(then) or pending is not None
    async with deps.pool.acquire() as conn, conn.transaction() if together else contextlib.nullcontext():
        for step in steps:
            previous = moved.state
            release = lease.owner if lease is not None and step is steps[-1] else None
            event = state_change(moved.payment_id, moved.terms, step, previous, reason)
            after = await store.transition(
                conn, moved.payment_id, previous, step, event=event, release_lease_of=release, **fields
            )
            if after is None:
                raise RuntimeError(f"payment {moved.payment_id} left {previous} while we held its lease")
            moved = after
        if pending is not None and answer is not None:
            final = moved
            await pending.store(conn, lambda: answer(final))
    if pending is not None:
        pending.committed()
    if lease is not None:
        lease.released = True
    for step in steps:
        PAYMENTS.labels(step.value).inc()
    return moved


async def _move_with_answer(
    deps: Deps,
    payment: Payment,
    target: State,
    fields: dict[str, Any],
    reason: str | None,
    lease: _Lease | None,
    pending: PendingAnswer,
    answer: Callable[[Payment], Answer],
) -> Payment:
    """One change to `target` with its event, the lease let go (if final) and the request's
    answer, all in one statement: one round trip where a transaction took four (BEGIN, the
    change, the answer, COMMIT). The answer is made from the payment as the statement will
    leave it: every field it shows is set here, the completion time included."""
    at = datetime.now(UTC) if target is State.COMPLETED else None
    expected = replace(payment, state=target, **fields)
    if at is not None:
        expected = replace(expected, completed_at=at, confirmed_at=payment.confirmed_at or at)
    row = pending.prepare(lambda: answer(expected))
    event = state_change(payment.payment_id, payment.terms, target, payment.state, reason)
    async with deps.pool.acquire() as conn:
        moved = await store.transition(
            conn,
            payment.payment_id,
            payment.state,
            target,
            event=event,
            release_lease_of=lease.owner if lease is not None else None,
            answer=row,
            completed_at=at,
            **fields,
        )
    if moved is None:
        raise RuntimeError(f"payment {payment.payment_id} left {payment.state} while we held its lease")
    pending.committed()  # the statement was its own transaction
    if lease is not None:
        lease.released = True
    PAYMENTS.labels(target.value).inc()
    return moved


async def _move_through(
    deps: Deps, payment: Payment, steps: tuple[State, ...], reason: str | None
) -> Payment:
    """Several changes with nothing to set but the state, with their events, in one
    statement (one round trip, not a transaction of one per step)."""
    previous = (payment.state, *steps[:-1])
    events = [
        state_change(payment.payment_id, payment.terms, s, p, reason)
        for s, p in zip(steps, previous, strict=True)
    ]
    async with deps.pool.acquire() as conn:
        moved = await store.move_through(conn, payment.payment_id, payment.state, list(steps), events)
    if moved is None:
        raise RuntimeError(f"payment {payment.payment_id} left {payment.state} while we held its lease")
    return moved


@dataclass
class _Lease:
    payment_id: str
    owner: str
    released: bool = False


# The lease this task holds, so that a payment's move to a final state releases it in the
# same statement instead of one more round trip when the work is done.
_HELD: ContextVar[_Lease | None] = ContextVar("confirm_held_lease", default=None)


@asynccontextmanager
async def _leased(deps: Deps, payment_id: str) -> AsyncIterator[Payment]:
    """The payment's lease, owned by this call: renewed while the work goes on (a slow bank
    must not let another worker in), released only by its owner."""
    owner = secrets.token_hex(8)
    lease_s = deps.limits.lease_s
    async with deps.pool.acquire() as conn:
        payment = await store.take_lease(conn, payment_id, owner, lease_s)
    if payment is None:
        raise ProblemError(
            409,
            "PAYMENT_IN_PROGRESS",
            "This payment is being processed by another request",
            headers={"Retry-After": "1"},
        )
    lease = _Lease(payment_id, owner)
    held = _HELD.set(lease)
    renewer = asyncio.create_task(_renew(deps, lease, lease_s))
    try:
        yield payment
    finally:
        _HELD.reset(held)
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        if not lease.released:
            async with deps.pool.acquire() as conn:
                await store.release_lease(conn, payment_id, owner)


async def _renew(deps: Deps, lease: _Lease, lease_s: float) -> None:
    payment_id = lease.payment_id
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            async with deps.pool.acquire() as conn:
                renewed = await store.renew_lease(conn, payment_id, lease.owner, lease_s)
            if not renewed and not lease.released:
                log.error("lease on %s was lost while working on it", payment_id)
            if not renewed:
                return
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("could not renew the lease on %s: %s", payment_id, exc)


def _final_answer(payment: Payment) -> Answer:
    """A finished payment confirmed again is not confirmed twice: the caller learns how it
    ended (the same SUCCESS, reference and time, or the same refusal) and nothing moves."""
    if payment.state is State.COMPLETED:
        return confirm_answer(payment, already_confirmed=True)
    context: dict[str, Any] = {
        "state": payment.state.value,
        "transaction_id": payment.terms.transaction_id,
        "payment_id": payment.payment_id,
        "reason": payment.failure_code,
    }
    if payment.state is State.DECLINED:
        raise ProblemError(
            422,
            "PAYMENT_DECLINED",
            payment.failure_detail or "The payment was declined",
            reasons=payment.risk_reasons,
            **context,
        )
    raise ProblemError(422, "PAYMENT_FAILED", payment.failure_detail or "The payment failed", **context)
