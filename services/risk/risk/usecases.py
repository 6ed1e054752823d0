"""Use cases of the risk service. Network calls (account, OFAC, KYC) run first and
concurrently; then one transaction reads the history, evaluates and stores the assessment."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from paykit import Money, ProblemError
from paykit.http import ServiceCallError
from prometheus_client import Counter

from . import domain, store
from .cache import Caches
from .clients import AccountClient, KycClient, OfacClient
from .rules import Decision, Rules

log = logging.getLogger("risk.usecases")

DECISIONS = Counter("risk_decisions", "Risk decisions by outcome", ["decision"])
DEPENDENCY_FAILURES = Counter(
    "risk_dependency_failures", "Calls to a dependency that gave no usable answer", ["dependency"]
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


@dataclass
class RiskService:
    pool: asyncpg.Pool
    rules: Rules
    clients: Clients
    # All dependency checks of one assessment together, whatever each call's own timeout.
    checks_deadline_s: float = 4.0
    caches: Caches = field(default_factory=Caches.disabled)


@dataclass(frozen=True)
class PaymentToAssess:
    transaction_id: str
    customer_id: str
    amount: Money
    from_account: str | None
    to_account: str | None
    payee_name: str | None = None


async def assess_risk(service: RiskService, payment: PaymentToAssess) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + service.checks_deadline_s
    screening, (payee, payee_kyc), kyc = await asyncio.gather(
        _screen(service.clients, service.caches, payment.customer_id, deadline),
        _screen_payee(service.clients, service.caches, payment.to_account, payment.payee_name, deadline),
        _kyc(service.clients, service.caches, payment.customer_id, deadline),
    )
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
    async with service.pool.acquire() as conn, conn.transaction():
        await store.lock_customer(conn, payment.customer_id)
        owner = await store.transaction_owner(conn, payment.transaction_id)
        if owner is not None and owner != payment.customer_id:
            raise ProblemError(
                409, "TRANSACTION_CUSTOMER_MISMATCH", "This transaction was assessed for another customer"
            )
        history = await store.history(
            conn, payment.customer_id, payment.transaction_id, payment.amount.currency, rules.window_h
        )
        result = domain.evaluate(rules, payment.amount, screening, kyc, history, payee, payee_kyc)
        row = await store.insert_assessment(conn, new, result)
    DECISIONS.labels(result.decision.name).inc()
    log.info(
        "risk decision %s score %d for transaction %s (%s)",
        result.decision.name,
        result.risk_score,
        payment.transaction_id,
        ",".join(r.code for r in result.reasons) or "no reasons",
    )
    return _out(row)


async def list_assessments(service: RiskService, transaction_id: str, limit: int) -> list[dict[str, Any]]:
    limit = max(1, min(limit, LIST_LIMIT_MAX))
    async with service.pool.acquire() as conn:
        rows = await store.list_assessments(conn, transaction_id, limit)
    return [_out(row) for row in rows]


def _out(row: asyncpg.Record) -> dict[str, Any]:
    body = store.record_to_dict(row)
    body["amount"] = Money(body["amount_minor"], body["currency"]).format()
    return body


async def _screen(clients: Clients, caches: Caches, customer_id: str, deadline: float) -> domain.Screening:
    """Customer details from account, then OFAC on their name and country."""
    try:
        async with asyncio.timeout_at(deadline):
            customer = await caches.customers.get_or_load(
                customer_id, lambda: clients.account.get_customer(customer_id)
            )
    except (ServiceCallError, TimeoutError) as exc:
        _dependency_failed("account", exc)
        return domain.Screening(customer="UNAVAILABLE")
    if customer is None:
        return domain.Screening(customer="NOT_FOUND")
    return await _check_name(clients, caches, customer_id, customer.full_name, customer.country, deadline)


async def _screen_payee(
    clients: Clients, caches: Caches, to_account: str | None, payee_name: str | None, deadline: float
) -> tuple[tuple[domain.Screening, ...], domain.Kyc | None]:
    """The payee, screened like the payer: the owner of the payee account (with their
    customer id, so OFAC's customer-id matches count) and any payee name the request gave;
    and the owner's KYC status, as a re-screening's sanctions hold stops them being paid too."""
    screenings: list[domain.Screening] = []
    owner_kyc: domain.Kyc | None = None
    if to_account is not None:
        try:
            async with asyncio.timeout_at(deadline):
                owner = await clients.account.get_account_owner(to_account)
        except (ServiceCallError, TimeoutError) as exc:
            _dependency_failed("account", exc)
            owner, screenings = None, [domain.Screening(customer="UNAVAILABLE")]
        if owner is not None:
            owner_screening, owner_kyc = await asyncio.gather(
                _screen(clients, caches, owner, deadline), _kyc(clients, caches, owner, deadline)
            )
            screenings.append(owner_screening)
        elif not screenings:
            screenings.append(domain.Screening(customer="NOT_FOUND"))
    if payee_name is not None:
        screenings.append(await _check_name(clients, caches, None, payee_name, None, deadline))
    return tuple(screenings), owner_kyc


async def _check_name(
    clients: Clients,
    caches: Caches,
    customer_id: str | None,
    name: str,
    country: str | None,
    deadline: float,
) -> domain.Screening:
    try:
        async with asyncio.timeout_at(deadline):
            answer = await caches.sanctions.get_or_load(
                (customer_id, name, country), lambda: clients.ofac.check_sanctions(customer_id, name, country)
            )
    except (ServiceCallError, TimeoutError) as exc:
        _dependency_failed("ofac", exc)
        return domain.Screening(customer="OK", sanctions="UNAVAILABLE")
    caches.saw_list_version(answer.list_version)
    return domain.Screening(
        customer="OK",
        sanctions="OK",
        is_sanctioned=answer.is_sanctioned,
        review=answer.review,
        list_version=answer.list_version,
        match_count=len(answer.matches),
    )


# KYC statuses in which a sanctions reason stops the customer's payments.
KYC_HOLD_STATUSES = ("MANUAL_REVIEW", "REJECTED")


async def _kyc(clients: Clients, caches: Caches, customer_id: str, deadline: float) -> domain.Kyc:
    try:
        async with asyncio.timeout_at(deadline):
            answer = await caches.kyc.get_or_load(customer_id, lambda: clients.kyc.check_status(customer_id))
    except (ServiceCallError, TimeoutError) as exc:
        _dependency_failed("kyc", exc)
        return domain.Kyc(available=False)
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
