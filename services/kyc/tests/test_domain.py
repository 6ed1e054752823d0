"""KYC rules: transitions (a test per invalid one), age, document formats, outcomes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kyc.domain import (
    TRANSITIONS,
    Action,
    DocumentType,
    Screening,
    Status,
    TransitionError,
    age_years,
    check_transition,
    decide,
    document_format_valid,
)

ALL = [(a, s, t) for a in Action for s in Status for t in Status]
VALID = [(a, s, t) for a, s, t in ALL if t in TRANSITIONS.get((a, s), frozenset())]
INVALID = [(a, s, t) for a, s, t in ALL if t not in TRANSITIONS.get((a, s), frozenset())]
CLEAN = Screening(available=True)
NO_SANCTIONS: frozenset[str] = frozenset({"CU", "IR", "KP", "SY"})


@pytest.mark.parametrize(("action", "current", "target"), VALID)
def test_valid_transitions(action: Action, current: Status, target: Status) -> None:
    check_transition(action, current, target)


@pytest.mark.parametrize(("action", "current", "target"), INVALID)
def test_invalid_transitions_are_refused(action: Action, current: Status, target: Status) -> None:
    with pytest.raises(TransitionError):
        check_transition(action, current, target)


def test_the_transition_table_says_what_we_mean() -> None:
    with pytest.raises(TransitionError):
        check_transition(Action.SUBMIT, Status.MANUAL_REVIEW, Status.PENDING)
    with pytest.raises(TransitionError):
        check_transition(Action.AUTO, Status.VERIFIED, Status.VERIFIED)
    with pytest.raises(TransitionError):
        check_transition(Action.APPROVE, Status.UNVERIFIED, Status.VERIFIED)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 100))
def test_age_changes_exactly_on_birthdays(born: date, years: int) -> None:
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:  # 29 February in a common year
        return
    assert age_years(born, birthday) == years
    if years > 0:
        assert age_years(born, birthday - timedelta(days=1)) == years - 1


@pytest.mark.parametrize(
    ("doc", "number", "ok"),
    [
        (DocumentType.PASSPORT, "X1234567", True),
        (DocumentType.PASSPORT, "x1234 567", True),
        (DocumentType.PASSPORT, "12", False),
        (DocumentType.PASSPORT, "ABC$12345", False),
        (DocumentType.NATIONAL_ID, "123-45-6789", True),
        (DocumentType.DRIVERS_LICENSE, "D12", False),
        (DocumentType.DRIVERS_LICENSE, "D1234567", True),
    ],
)
def test_document_formats(doc: DocumentType, number: str, ok: bool) -> None:
    assert document_format_valid(doc, number) is ok


def _decide(**overrides: object) -> tuple[Status, int, list[str]]:
    args: dict[str, object] = {
        "document_ok": True,
        "age": 30,
        "country": "US",
        "sanctioned_countries": NO_SANCTIONS,
        "screening": CLEAN,
        "current_tier": 0,
    }
    args.update(overrides)
    outcome = decide(**args)  # type: ignore[arg-type]
    return outcome.status, outcome.tier, outcome.reasons


def test_outcomes() -> None:
    assert _decide() == (Status.VERIFIED, 1, [])
    assert _decide(current_tier=3) == (Status.VERIFIED, 3, [])
    assert _decide(age=17) == (Status.REJECTED, 0, ["UNDERAGE"])
    assert _decide(age=18)[0] is Status.VERIFIED
    assert _decide(document_ok=False)[2] == ["DOCUMENT_FORMAT_INVALID"]
    assert _decide(country="ir") == (Status.REJECTED, 0, ["COUNTRY_SANCTIONED"])
    assert _decide(screening=Screening(True, is_sanctioned=True))[2] == ["SANCTIONS_MATCH"]
    assert _decide(screening=Screening(True, review=True)) == (
        Status.MANUAL_REVIEW,
        0,
        ["SANCTIONS_POSSIBLE_MATCH"],
    )
    assert _decide(screening=Screening(False)) == (Status.MANUAL_REVIEW, 0, ["SCREENING_UNAVAILABLE"])
    # A hard failure wins over a doubt.
    assert _decide(age=16, screening=Screening(False))[0] is Status.REJECTED
