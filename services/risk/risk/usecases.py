"""Use cases of the risk service. Network calls (account, OFAC, KYC) run first and
concurrently; then the history is read, the payment evaluated against it and the assessment
stored, atomically with a re-check that the history is unchanged (migration 0003)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from paykit import Money, ProblemError, deadline
from paykit.http import ServiceCallError
from prometheus_client import Counter

from . import domain, store
from .cache import Caches, Check, Marks
from .clients import AccountClient, Customer, KycAnswer, KycClient, OfacClient, Parties, SanctionsAnswer
from .rules import Decision, Rules

log = logging.getLogger("risk.usecases")

DECISIONS = Counter("risk_decisions", "Risk decisions by outcome", ["decision"])
DEPENDENCY_FAILURES = Counter(
    "risk_dependency_failures", "Calls to a dependency that gave no usable answer", ["dependency"]
)
KEPT_ANSWERS = Counter(
    "risk_kept_answers",
    "KYC answers and screenings a payment needed: used as kept (their change mark stood) or asked for",
    ["answer", "outcome"],
)
REEVALUATED = Counter(
    "risk_assessments_reevaluated",
    "Assessments evaluated again under the customer's database lock: between reading and "
    "recording, another risk instance assessed the customer or another customer claimed the "
    "transaction id",
)
for _decision in Decision:
    DECISIONS.labels(_decision.name)
LIST_LIMIT_MAX = 100


@dataclass
class Clients:
    account: AccountClient
    ofac: OfacClient
    kyc: KycClient

    async def aclose(self) -> None:
        await asyncio.gather(self.account.aclose(), self.ofac.aclose(), self.kyc.aclose())


class CustomerTurns:
    """One assessment at a time per customer in this process. Evaluated side by side, all but
    one of a busy customer's assessments would find the history changed when recording and go
    again under the customer's database lock, holding it across round trips (the hot account
    of `make bench-fleet` spent most of its time queued there). Taking turns here, each one
    reads the history its predecessor left and records at the first try; the database lock
    still decides between processes. Entries live only while someone holds or awaits them,
    so there are never more than the requests in flight."""

    def __init__(self, wait_max_s: float = 3.0) -> None:
        self._wait_max_s = wait_max_s
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def turn(self, customer_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(customer_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            try:
                async with asyncio.timeout(deadline.cap_timeout_s(self._wait_max_s)):
                    await lock.acquire()
            except TimeoutError:
                raise ProblemError(
                    503,
                    "CUSTOMER_BUSY",
                    "Too many payments of this customer are being assessed; nothing was recorded",
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[customer_id]


@dataclass
class RiskService:
    pool: asyncpg.Pool
    rules: Rules
    clients: Clients
    # All dependency checks of one assessment together, whatever each call's own timeout.
    checks_deadline_s: float = 4.0
    caches: Caches = field(default_factory=Caches.disabled)
    turns: CustomerTurns = field(default_factory=CustomerTurns)


@dataclass(frozen=True)
class PaymentToAssess:
    transaction_id: str
    customer_id: str
    amount: Money
    from_account: str | None
    to_account: str | None
    payee_name: str | None = None
    # Both accounts as the caller (confirm) has just read them from account; None: ask account.
    parties: Parties | None = None


async def assess_risk(service: RiskService, payment: PaymentToAssess) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + service.checks_deadline_s
    checks = _Checks(*await _checks(service.clients, service.caches, payment, deadline))
    rules = service.rules
    new = store.NewAssessment(
        transaction_id=payment.transaction_id,
        customer_id=payment.customer_id,
        amount_minor=payment.amount.amount_minor,
        currency=payment.amount.currency,
        from_account=payment.from_account,
        to_account=payment.to_account,
        rules_version=rules.version,
    )
    async with service.turns.turn(payment.customer_id), service.pool.acquire() as conn:
        # Read, evaluate, then record only if the history is unchanged (two statements, no
        # transaction around them); when another assessment of the customer came between,
        # the same steps again under the customer's lock, where nothing can.
        recorded = await _evaluate_and_record(conn, rules, payment, new, checks)
        if recorded is None:
            REEVALUATED.inc()
            async with conn.transaction():
                await store.lock_customer(conn, payment.customer_id, payment.transaction_id)
                recorded = await _evaluate_and_record(conn, rules, payment, new, checks)
            if recorded is None:
                raise RuntimeError("the history changed under the customer's lock")
    result, row = recorded
    DECISIONS.labels(result.decision.name).inc()
    log.info(
        "risk decision %s score %d for transaction %s (%s)",
        result.decision.name,
        result.risk_score,
        payment.transaction_id,
        ",".join(r.code for r in result.reasons) or "no reasons",
    )
    return _out(row)


@dataclass(frozen=True)
class _Checks:
    """What the dependencies answered, evaluated together with the stored history."""

    screening: domain.Screening
    payee: tuple[domain.Screening, ...]
    kyc: domain.Kyc
    payee_kyc: domain.Kyc | None


async def _evaluate_and_record(
    conn: asyncpg.Connection,
    rules: Rules,
    payment: PaymentToAssess,
    new: store.NewAssessment,
    checks: _Checks,
) -> tuple[domain.Evaluation, asyncpg.Record] | None:
    """Read the history, evaluate against it and record the outcome if the history is still
    the same when recorded; None (nothing stored) when it changed in between."""
    owner, history = await store.owner_and_history(
        conn, payment.customer_id, payment.transaction_id, payment.amount.currency, rules.window_h
    )
    if owner is not None and owner != payment.customer_id:
        raise ProblemError(
            409, "TRANSACTION_CUSTOMER_MISMATCH", "This transaction was assessed for another customer"
        )
    result = domain.evaluate(
        rules, payment.amount, checks.screening, checks.kyc, history, checks.payee, checks.payee_kyc
    )
    row = await store.record_assessment(
        conn, new, result, owner=owner, history=history, window_h=rules.window_h
    )
    return None if row is None else (result, row)


async def list_assessments(service: RiskService, transaction_id: str, limit: int) -> list[dict[str, Any]]:
    limit = max(1, min(limit, LIST_LIMIT_MAX))
    async with service.pool.acquire() as conn:
        rows = await store.list_assessments(conn, transaction_id, limit)
    return [_out(row) for row in rows]


def _out(row: asyncpg.Record) -> dict[str, Any]:
    body = store.record_to_dict(row)
    body["amount"] = Money(body["amount_minor"], body["currency"]).format()
    return body


@dataclass(frozen=True)
class _Party:
    """A party of the payment as account knows them: whether they were found, their customer
    id when known (KYC is asked about it even without details) and their name and country."""

    found: domain.LookupStatus
    customer_id: str | None = None
    customer: Customer | None = None


async def _checks(
    clients: Clients, caches: Caches, payment: PaymentToAssess, deadline: float
) -> tuple[domain.Screening, tuple[domain.Screening, ...], domain.Kyc, domain.Kyc | None]:
    """Who pays and who is paid (one account call), then everyone's KYC status (one KYC call)
    and screening (one OFAC call) side by side. The payee is screened like the payer: the
    owner of the payee account (with their customer id, so OFAC's customer-id matches count)
    and any payee name the request gave; the owner's KYC status counts too, as a
    re-screening's sanctions hold stops them being paid."""
    payer, owner = await _parties(clients, caches, payment, deadline)
    people = [p for p in (payer, owner) if p is not None]
    kyc_ids = [p.customer_id for p in people if p.customer_id is not None]
    checks: list[tuple[str | None, str, str | None]] = [
        (p.customer_id, p.customer.full_name, p.customer.country) for p in people if p.customer is not None
    ]
    if payment.payee_name is not None:
        checks.append((None, payment.payee_name, None))
    marks = await caches.read_marks(kyc_ids)
    kycs, answers = await asyncio.gather(
        _kyc_many(clients, caches, marks, kyc_ids, deadline),
        _screen_many(clients, caches, marks, checks, deadline),
    )
    screened = iter(answers)
    payer_screening = next(screened) if payer.customer is not None else domain.Screening(payer.found)
    payee: list[domain.Screening] = []
    if owner is not None:
        payee.append(next(screened) if owner.customer is not None else domain.Screening(owner.found))
    payee.extend(screened)  # the payee name, when given
    owner_kyc = kycs[1] if owner is not None and owner.customer_id is not None else None
    return payer_screening, tuple(payee), kycs[0], owner_kyc


async def _parties(
    clients: Clients, caches: Caches, payment: PaymentToAssess, deadline: float
) -> tuple[_Party, _Party | None]:
    """The payer (found by their customer id) and the payee account's owner (None when the
    payment names no payee account), both accounts asked of account in one call, unless the
    caller sent account's answer along."""
    parties = payment.parties
    if parties is None and (payment.from_account is not None or payment.to_account is not None):
        try:
            async with asyncio.timeout_at(deadline):
                parties = await clients.account.payment_parties(payment.from_account, payment.to_account)
        except (ServiceCallError, TimeoutError) as exc:
            _dependency_failed("account", exc)
            unavailable = _Party("UNAVAILABLE")
            payee = unavailable if payment.to_account is not None else None
            return _Party("UNAVAILABLE", payment.customer_id), payee
    account = parties.payer if parties is not None else None
    if account is not None and account.customer_id == payment.customer_id and account.customer is not None:
        payer = _Party("OK", payment.customer_id, account.customer)
    else:  # no payer account given, or it did not tell us about this customer: ask by id
        payer = await _customer(clients, caches, payment.customer_id, deadline)
    if payment.to_account is None:
        return payer, None
    paid = parties.payee if parties is not None else None
    if paid is None or paid.customer_id is None:
        return payer, _Party("NOT_FOUND")
    return payer, _Party("OK" if paid.customer else "NOT_FOUND", paid.customer_id, paid.customer)


async def _customer(clients: Clients, caches: Caches, customer_id: str, deadline: float) -> _Party:
    try:
        async with asyncio.timeout_at(deadline):
            customer = await caches.customers.get_or_load(
                customer_id, lambda: clients.account.get_customer(customer_id)
            )
    except (ServiceCallError, TimeoutError) as exc:
        _dependency_failed("account", exc)
        return _Party("UNAVAILABLE", customer_id)
    return _Party("OK" if customer else "NOT_FOUND", customer_id, customer)


async def _screen_many(
    clients: Clients, caches: Caches, marks: Marks | None, checks: list[Check], deadline: float
) -> list[domain.Screening]:
    """Each (customer id, name, country) screened by OFAC, all that are not kept (under the
    lists' current mark) in one call."""
    answers: dict[Check, SanctionsAnswer] = (
        caches.sanctions.current((c, marks.sanctions) for c in checks) if marks is not None else {}
    )
    missing = list(dict.fromkeys(c for c in checks if c not in answers))
    KEPT_ANSWERS.labels("screening", "used").inc(len(answers))
    KEPT_ANSWERS.labels("screening", "asked").inc(len(missing))
    if missing:
        try:
            async with asyncio.timeout_at(deadline):
                fresh = await clients.ofac.check_many(missing)
        except (ServiceCallError, TimeoutError) as exc:
            _dependency_failed("ofac", exc)
            fresh = []
        for check, screened in zip(missing, fresh, strict=False):
            if marks is not None:
                caches.sanctions.keep(check, marks.sanctions, screened)
            answers[check] = screened
    screenings = []
    for check in checks:
        answer = answers.get(check)
        if answer is None:
            screenings.append(domain.Screening(customer="OK", sanctions="UNAVAILABLE"))
            continue
        screenings.append(
            domain.Screening(
                customer="OK",
                sanctions="OK",
                is_sanctioned=answer.is_sanctioned,
                review=answer.review,
                list_version=answer.list_version,
                match_count=len(answer.matches),
            )
        )
    return screenings


# KYC statuses in which a sanctions reason stops the customer's payments.
KYC_HOLD_STATUSES = ("MANUAL_REVIEW", "REJECTED")


async def _kyc_many(
    clients: Clients, caches: Caches, marks: Marks | None, customer_ids: list[str], deadline: float
) -> list[domain.Kyc]:
    """Each customer's KYC status and limits, all that are not kept (under the customer's
    current mark) in one call."""
    answers: dict[str, KycAnswer | None] = (
        caches.kyc.current((c, marks.kyc[c]) for c in customer_ids) if marks is not None else {}
    )
    missing = list(dict.fromkeys(c for c in customer_ids if c not in answers))
    KEPT_ANSWERS.labels("kyc", "used").inc(len(answers))
    KEPT_ANSWERS.labels("kyc", "asked").inc(len(missing))
    failed: set[str] = set()
    if missing:
        try:
            async with asyncio.timeout_at(deadline):
                fresh = await clients.kyc.check_many(missing)
        except (ServiceCallError, TimeoutError) as exc:
            _dependency_failed("kyc", exc)
            fresh, failed = [], set(missing)
        for customer_id, status in zip(missing, fresh, strict=False):
            if marks is not None:
                caches.kyc.keep(customer_id, marks.kyc[customer_id], status)
            answers[customer_id] = status
    return [domain.Kyc(available=False) if c in failed else _kyc(answers.get(c)) for c in customer_ids]


def _kyc(answer: KycAnswer | None) -> domain.Kyc:
    if answer is None:
        return domain.Kyc(available=True, verified=False, status="NOT_FOUND")
    limits = None
    if answer.limits is not None:
        limits = domain.KycLimits(
            answer.limits.currency, answer.limits.per_payment_minor, answer.limits.daily_minor
        )
    held = answer.status in KYC_HOLD_STATUSES and any(r.startswith("SANCTIONS") for r in answer.reasons)
    return domain.Kyc(
        available=True,
        verified=answer.verified,
        status=answer.status,
        tier=answer.tier,
        limits=limits,
        sanctions_hold=held,
    )


def _dependency_failed(dependency: str, exc: Exception) -> None:
    DEPENDENCY_FAILURES.labels(dependency).inc()
    log.warning("%s check failed: %s", dependency, exc or "assessment deadline passed")
