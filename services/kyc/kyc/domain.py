"""KYC rules: statuses and their transitions, the automatic checks, the outcome. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Status(StrEnum):
    UNVERIFIED = "UNVERIFIED"
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    MANUAL_REVIEW = "MANUAL_REVIEW"


class Action(StrEnum):
    SUBMIT = "submit"  # a customer sends their details: -> PENDING
    AUTO = "auto"  # the automatic checks conclude
    APPROVE = "approve"  # a reviewer
    REJECT = "reject"  # a reviewer
    RESCREEN = "rescreen"  # a changed sanctions list matches the customer: -> MANUAL_REVIEW


# (action, from) -> the statuses it may lead to.
TRANSITIONS: dict[tuple[Action, Status], frozenset[Status]] = {
    # A new submission supersedes a stuck or earlier one; not while a reviewer holds it.
    **{(Action.SUBMIT, s): frozenset({Status.PENDING}) for s in Status if s is not Status.MANUAL_REVIEW},
    (Action.AUTO, Status.PENDING): frozenset({Status.VERIFIED, Status.REJECTED, Status.MANUAL_REVIEW}),
    # Reviewers decide a case in review, overrule an automatic rejection (with a note), or
    # move a verified customer to another tier.
    **{
        (Action.APPROVE, s): frozenset({Status.VERIFIED})
        for s in (Status.PENDING, Status.MANUAL_REVIEW, Status.REJECTED, Status.VERIFIED)
    },
    **{
        (Action.REJECT, s): frozenset({Status.REJECTED})
        for s in (Status.PENDING, Status.MANUAL_REVIEW, Status.VERIFIED, Status.UNVERIFIED)
    },
    # A new sanctions hit puts any customer before a reviewer, whatever they were.
    **{(Action.RESCREEN, s): frozenset({Status.MANUAL_REVIEW}) for s in Status},
}
RESCREEN_REASON = "SANCTIONS_RESCREEN_HIT"


class TransitionError(ValueError):
    def __init__(self, action: Action, current: Status, target: Status) -> None:
        super().__init__(f"cannot {action.value} a KYC record in {current.value} to {target.value}")
        self.current = current


def check_transition(action: Action, current: Status, target: Status) -> None:
    if target not in TRANSITIONS.get((action, current), frozenset()):
        raise TransitionError(action, current, target)


class DocumentType(StrEnum):
    PASSPORT = "PASSPORT"
    NATIONAL_ID = "NATIONAL_ID"
    DRIVERS_LICENSE = "DRIVERS_LICENSE"


# Formats accepted for each document type (after upper-casing and removing spaces/dashes).
DOCUMENT_FORMATS: dict[DocumentType, re.Pattern[str]] = {
    DocumentType.PASSPORT: re.compile(r"[A-Z0-9]{6,9}"),
    DocumentType.NATIONAL_ID: re.compile(r"[A-Z0-9]{5,20}"),
    DocumentType.DRIVERS_LICENSE: re.compile(r"[A-Z0-9]{4,20}"),
}
AGE_MIN_YEARS = 18
VERIFIED_TIER_MIN = 1
TIER_MAX = 3


def normalize_document_number(number: str) -> str:
    return re.sub(r"[\s-]", "", number).upper()


def document_format_valid(document_type: DocumentType, number: str) -> bool:
    normalized = normalize_document_number(number)
    return DOCUMENT_FORMATS[document_type].fullmatch(normalized) is not None


def age_years(date_of_birth: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - int(before_birthday)


@dataclass(frozen=True, slots=True)
class Screening:
    """What the OFAC service said about the name; `available=False` when it could not answer."""

    available: bool
    is_sanctioned: bool = False
    review: bool = False
    list_version: str | None = None
    best_score: float | None = None
    best_entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    tier: int
    reasons: list[str] = field(default_factory=list)


def decide(
    *,
    document_ok: bool,
    age: int,
    country: str,
    sanctioned_countries: frozenset[str],
    screening: Screening,
    current_tier: int,
) -> Outcome:
    """The automatic outcome of a verification: a hard failure rejects, a doubt goes to a
    reviewer, and only a clean result verifies (at least tier 1; a higher tier is kept)."""
    rejections = []
    if not document_ok:
        rejections.append("DOCUMENT_FORMAT_INVALID")
    if age < AGE_MIN_YEARS:
        rejections.append("UNDERAGE")
    if country.upper() in sanctioned_countries:
        rejections.append("COUNTRY_SANCTIONED")
    if screening.is_sanctioned:
        rejections.append("SANCTIONS_MATCH")
    if rejections:
        return Outcome(Status.REJECTED, 0, rejections)
    doubts = []
    if not screening.available:
        doubts.append("SCREENING_UNAVAILABLE")
    elif screening.review:
        doubts.append("SANCTIONS_POSSIBLE_MATCH")
    if doubts:
        return Outcome(Status.MANUAL_REVIEW, 0, doubts)
    return Outcome(Status.VERIFIED, max(current_tier, VERIFIED_TIER_MIN), [])
