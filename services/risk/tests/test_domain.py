"""The pure evaluation and the rules file's checks, including properties over all inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from paykit import Money
from pydantic import ValidationError
from risk.domain import History, Kyc, KycLimits, Screening, evaluate
from risk.rules import DEFAULT_RULES_FILE, Decision, load_rules

RULES = load_rules()
OK = Screening(customer="OK", sanctions="OK")
VERIFIED = Kyc(available=True, verified=True, status="VERIFIED", tier=3)
QUIET = History(other_transactions=0, daily_total_minor=0)

screenings = st.one_of(
    st.builds(
        Screening,
        customer=st.just("OK"),
        sanctions=st.sampled_from(["OK", "UNAVAILABLE"]),
        is_sanctioned=st.booleans(),
        review=st.booleans(),
    ),
    st.builds(Screening, customer=st.sampled_from(["NOT_FOUND", "UNAVAILABLE"])),
)
limits = st.none() | st.builds(
    KycLimits,
    currency=st.just("USD"),
    per_payment_minor=st.none() | st.integers(0, 10**9),
    daily_minor=st.none() | st.integers(0, 10**9),
)
kycs = st.builds(Kyc, available=st.booleans(), verified=st.booleans(), limits=limits)
histories = st.builds(History, other_transactions=st.integers(0, 50), daily_total_minor=st.integers(0, 10**9))
amounts = st.integers(1, 10**9).map(lambda minor: Money(minor, "USD"))


def expected_score(amount: Money, kyc: Kyc, history: History) -> int:
    return (
        30 * (amount.amount_minor > 500_000)
        + 20 * (amount.amount_minor > 1_000_000)
        + 25 * (history.other_transactions > 5)
        + 40 * (not kyc.verified)
    )


@given(amount=amounts, screening=screenings, kyc=kycs, history=histories)
def test_score_is_the_sum_of_the_seeds_rules(amount, screening, kyc, history) -> None:
    result = evaluate(RULES, amount, screening, kyc, history)

    assert result.risk_score == expected_score(amount, kyc, history)
    assert sum(r.score for r in result.reasons) == result.risk_score
    if result.risk_score >= 50:
        assert result.risk_level == "HIGH"
        assert result.decision >= Decision.CHALLENGE


@given(amount=amounts, kyc=kycs, history=histories)
def test_a_sanctions_hit_is_always_denied(amount, kyc, history) -> None:
    screening = Screening(customer="OK", sanctions="OK", is_sanctioned=True)

    assert evaluate(RULES, amount, screening, kyc, history).decision == Decision.DENY


@given(amount=amounts, screening=screenings, kyc=kycs, history=histories)
def test_unscreened_customers_are_never_let_through(amount, screening, kyc, history) -> None:
    result = evaluate(RULES, amount, screening, kyc, history)

    if screening.customer != "OK" or screening.sanctions != "OK" or screening.review:
        assert result.decision >= Decision.REVIEW
        assert result.risk_level == "HIGH"


@given(amount=amounts, history=histories)
def test_without_compliance_findings_the_score_decides(amount, history) -> None:
    result = evaluate(RULES, amount, OK, VERIFIED, history)

    by_score = Decision.CHALLENGE if expected_score(amount, VERIFIED, history) >= 50 else Decision.ALLOW
    assert result.decision == by_score


@given(amount=amounts, history=histories, per_payment=st.integers(0, 10**9), daily=st.integers(0, 10**9))
def test_kyc_limits_deny_exactly_when_exceeded(amount, history, per_payment, daily) -> None:
    kyc = Kyc(available=True, verified=True, limits=KycLimits("USD", per_payment, daily))

    result = evaluate(RULES, amount, OK, kyc, history)

    over = amount.amount_minor > per_payment or history.daily_total_minor + amount.amount_minor > daily
    assert (result.decision == Decision.DENY) == over
    assert ("KYC_LIMIT_EXCEEDED" in [r.code for r in result.reasons]) == over


def test_seed_factors_are_kept() -> None:
    result = evaluate(RULES, Money(600_000, "USD"), OK, VERIFIED, History(6, 0))

    assert {k: result.factors[k] for k in ("amount", "frequency", "sanctions", "kyc_verified")} == {
        "amount": True,
        "frequency": True,
        "sanctions": False,
        "kyc_verified": True,
    }


def test_a_currency_the_rules_do_not_cover_is_a_bug_not_a_decision() -> None:
    with pytest.raises(ValueError, match="JPY"):
        evaluate(RULES, Money(1000, "JPY"), OK, VERIFIED, QUIET)


def _write_rules(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    for dotted, value in changes.items():
        target = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "change",
    [
        {"decision_rules__SANCTIONS_HIT": "CHALLENGE"},
        {"failure_policy__SANCTIONS_CHECK_UNAVAILABLE": "ALLOW"},
        {"failure_policy__CUSTOMER_LOOKUP_UNAVAILABLE": "CHALLENGE"},
        {"score__challenge_min": 0},
        {"version": ""},
        {"unknown_key": 1},
    ],
)
def test_rules_that_would_weaken_compliance_refuse_to_load(tmp_path, change) -> None:
    with pytest.raises(ValidationError):
        load_rules(_write_rules(tmp_path, **change))


def test_amount_thresholds_must_be_money(tmp_path) -> None:
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    data["score_rules"][0]["over"] = {"USD": "5000.001"}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))

    with pytest.raises(ValidationError, match="USD"):
        load_rules(path)


def test_another_rules_file_changes_scores_and_version(tmp_path) -> None:
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    data["version"] = "v2-test"
    data["score_rules"][0]["score"] = 60
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    rules = load_rules(path)

    result = evaluate(rules, Money(600_000, "USD"), OK, VERIFIED, QUIET)

    assert rules.version == "v2-test"
    assert (result.risk_score, result.decision) == (60, Decision.CHALLENGE)
