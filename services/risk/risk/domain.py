"""Pure risk evaluation: facts in, decision out. No I/O.

Every rule is evaluated; scores add up; the decision is the most severe one asked for by a
decision rule, a failure policy or the score band. So a sanctions hit is DENY whatever the
score, and a failed sanctions check can never come out as ALLOW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from paykit.money import Money, format_minor

from .rules import AmountOverRule, Decision, KycNotVerifiedRule, Rules, VelocityOverRule

LookupStatus = Literal["OK", "NOT_FOUND", "UNAVAILABLE"]


@dataclass(frozen=True)
class KycLimits:
    currency: str
    per_payment_minor: int | None  # None: the tier has no such limit
    daily_minor: int | None


@dataclass(frozen=True)
class Screening:
    """What account + OFAC said about the customer. `customer` is the account lookup;
    `sanctions` is OFAC's check, which is only made once the customer's name is known."""

    customer: LookupStatus
    sanctions: LookupStatus = "UNAVAILABLE"
    is_sanctioned: bool = False
    review: bool = False
    list_version: str | None = None
    match_count: int = 0


@dataclass(frozen=True)
class Kyc:
    available: bool
    verified: bool = False
    status: str | None = None
    tier: int | None = None
    limits: KycLimits | None = None
    # A sanctions hit (a re-screening after a list changed) waits for a KYC reviewer.
    sanctions_hold: bool = False


@dataclass(frozen=True)
class History:
    """From the risk service's own assessments in the window, the current transaction excluded."""

    other_transactions: int
    # Sum of the customer's other ALLOWed/CHALLENGEd transactions in the payment's currency.
    daily_total_minor: int


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str
    score: int = 0


@dataclass
class Evaluation:
    decision: Decision
    risk_score: int
    risk_level: Literal["LOW", "HIGH"]
    reasons: list[Reason]
    factors: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Tally:
    rules: Rules
    score: int = 0
    floor: Decision = Decision.ALLOW
    reasons: list[Reason] = field(default_factory=list)

    def add_score(self, code: str, score: int, detail: str) -> None:
        self.score += score
        self.reasons.append(Reason(code, detail, score))

    def note(self, code: str, detail: str) -> None:
        self.reasons.append(Reason(code, detail))

    def require(self, code: str, detail: str, *, party: str = "customer") -> None:
        """The decision of rule `code`; for the payee the same rule, reported as PAYEE_..."""
        self.floor = max(self.floor, self.rules.decision_for(code))
        if party == "payee":
            code = "PAYEE_" + code.removeprefix("CUSTOMER_")
            if any(reason.code == code for reason in self.reasons):
                return  # the account's owner and the payee name both matched: one reason
        self.reasons.append(Reason(code, detail))


def evaluate(
    rules: Rules,
    amount: Money,
    screening: Screening,
    kyc: Kyc,
    history: History,
    payee: tuple[Screening, ...] = (),
    payee_kyc: Kyc | None = None,
) -> Evaluation:
    """`payee`: one screening per thing that names the payee (the payee account's owner, a
    payee name); each is judged by the payer's rules, its reasons prefixed PAYEE_.
    `payee_kyc`: the payee account owner's KYC; only its sanctions hold counts (a payee need
    not be verified to be paid)."""
    if amount.currency not in rules.currencies:
        raise ValueError(f"rules {rules.version} cannot assess {amount.currency}")
    if history.other_transactions < 0 or history.daily_total_minor < 0:
        raise ValueError("history counts cannot be negative")
    tally = _Tally(rules)
    _screening_rules(tally, screening)
    for one in payee:
        _screening_rules(tally, one, party="payee")
    if kyc.sanctions_hold:
        tally.require("KYC_SANCTIONS_REVIEW", "A sanctions hit on the customer waits for a KYC reviewer")
    if payee_kyc is not None and payee_kyc.sanctions_hold:
        tally.require(
            "KYC_SANCTIONS_REVIEW", "A sanctions hit on the payee waits for a KYC reviewer", party="payee"
        )
    _kyc_limit_rules(tally, amount, kyc, history, rules.window_h)
    _score_rules(tally, amount, kyc, history)
    by_score = Decision.CHALLENGE if tally.score >= rules.score.challenge_min else Decision.ALLOW
    decision = max(tally.floor, by_score)
    high = tally.score >= rules.score.high_risk_min or decision >= Decision.REVIEW
    factors = _factors(rules, amount, screening, kyc, history) | _payee_factors(payee)
    return Evaluation(decision, tally.score, "HIGH" if high else "LOW", tally.reasons, factors)


def _screening_rules(tally: _Tally, screening: Screening, party: str = "customer") -> None:
    if screening.customer == "NOT_FOUND":
        tally.require("CUSTOMER_NOT_FOUND", f"The {party} is not known to the account service", party=party)
    elif screening.customer == "UNAVAILABLE":
        tally.require(
            "CUSTOMER_LOOKUP_UNAVAILABLE", f"The {party}'s details are unavailable: not screened", party=party
        )
    elif screening.sanctions == "OK" and screening.is_sanctioned:
        detail = f"The {party} matches a sanctions list ({screening.list_version})"
        tally.require("SANCTIONS_HIT", detail, party=party)
    elif screening.sanctions == "OK" and screening.review:
        detail = f"A possible sanctions match of the {party} needs an operator's review"
        tally.require("SANCTIONS_REVIEW", detail, party=party)
    elif screening.sanctions != "OK":
        tally.require("SANCTIONS_CHECK_UNAVAILABLE", "The sanctions check did not answer", party=party)


def _kyc_limit_rules(tally: _Tally, amount: Money, kyc: Kyc, history: History, window_h: int) -> None:
    limits = kyc.limits
    if limits is None:
        return
    if limits.currency != amount.currency:
        tally.require(
            "KYC_LIMIT_CURRENCY_MISMATCH",
            f"KYC limits are in {limits.currency}, the payment is in {amount.currency}",
        )
        return
    cur = amount.currency
    if limits.per_payment_minor is not None and amount.amount_minor > limits.per_payment_minor:
        tally.require(
            "KYC_LIMIT_EXCEEDED",
            f"per_payment_minor: {format_minor(amount.amount_minor, cur)} is over the KYC tier's "
            f"per-payment limit of {format_minor(limits.per_payment_minor, cur)} {cur}",
        )
    total = history.daily_total_minor + amount.amount_minor
    if limits.daily_minor is not None and total > limits.daily_minor:
        tally.require(
            "KYC_LIMIT_EXCEEDED",
            f"daily_minor: {format_minor(total, cur)} in {window_h} h is over the KYC tier's "
            f"daily limit of {format_minor(limits.daily_minor, cur)} {cur}",
        )


def _score_rules(tally: _Tally, amount: Money, kyc: Kyc, history: History) -> None:
    window_h = tally.rules.window_h
    if not kyc.available:
        # Failure policy TREAT_AS_UNVERIFIED: the KYC_NOT_VERIFIED score rule below applies.
        tally.note("KYC_CHECK_UNAVAILABLE", "The KYC check did not answer: treated as not verified")
    for rule in tally.rules.score_rules:
        if isinstance(rule, AmountOverRule):
            over = rule.over_minor[amount.currency]
            if amount.amount_minor > over:
                detail = f"Amount over {format_minor(over, amount.currency)} {amount.currency}"
                tally.add_score(rule.code, rule.score, detail)
        elif isinstance(rule, VelocityOverRule):
            if history.other_transactions > rule.count_over:
                detail = f"{history.other_transactions} other payments in {window_h} h"
                tally.add_score(rule.code, rule.score, detail)
        elif isinstance(rule, KycNotVerifiedRule) and not kyc.verified:
            detail = f"KYC status {kyc.status or 'UNKNOWN'}"
            tally.add_score(rule.code, rule.score, detail)


def _payee_factors(payee: tuple[Screening, ...]) -> dict[str, Any]:
    if not payee:
        check = "NOT_SCREENED"
    elif all(one.customer == "OK" and one.sanctions == "OK" for one in payee):
        check = "OK"
    else:
        check = (
            "UNAVAILABLE" if any("UNAVAILABLE" in (o.customer, o.sanctions) for o in payee) else "NOT_FOUND"
        )
    return {
        "payee_sanctions_check": check,
        "payee_sanctions": any(one.is_sanctioned for one in payee),
        "payee_sanctions_review": any(one.review for one in payee),
        "payee_sanctions_matches": sum(one.match_count for one in payee),
    }


def _factors(rules: Rules, amount: Money, screening: Screening, kyc: Kyc, history: History) -> dict[str, Any]:
    amount_rules = [r for r in rules.score_rules if isinstance(r, AmountOverRule)]
    velocity = [r for r in rules.score_rules if isinstance(r, VelocityOverRule)]
    return {
        # The seed's four factors, kept for clients written against it.
        "amount": any(amount.amount_minor > r.over_minor[amount.currency] for r in amount_rules),
        "frequency": any(history.other_transactions > r.count_over for r in velocity),
        "sanctions": screening.is_sanctioned,
        "kyc_verified": kyc.verified,
        "amount_minor": amount.amount_minor,
        "currency": amount.currency,
        "window_h": rules.window_h,
        "transactions_in_window": history.other_transactions,
        "daily_total_minor": history.daily_total_minor + amount.amount_minor,
        "customer_lookup": screening.customer,
        "sanctions_check": screening.sanctions,
        "sanctions_review": screening.review,
        "sanctions_matches": screening.match_count,
        "sanctions_list_version": screening.list_version,
        "kyc_check": "OK" if kyc.available else "UNAVAILABLE",
        "kyc_status": kyc.status,
        "kyc_sanctions_hold": kyc.sanctions_hold,
        "kyc_tier": kyc.tier,
        "kyc_limits": None
        if kyc.limits is None
        else {
            "currency": kyc.limits.currency,
            "per_payment_minor": kyc.limits.per_payment_minor,
            "daily_minor": kyc.limits.daily_minor,
        },
    }
