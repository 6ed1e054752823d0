"""The screening decision: pure rules over a search's matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .index import Match
from .matching import Evidence

INTERNAL_LIST = "INTERNAL_BLOCKLIST"
Band = Literal["BLOCK", "REVIEW", "NONE"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """At or above `block` a match with enough evidence sanctions; from `review` a human must
    look. A listed name made only of common name parts ("'ALI, Muhammad") reaches review from
    `review_common`: near-misses of common names are mostly other people."""

    block: float
    review: float
    review_common: float = 0.93

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.block <= 1 or not self.review <= self.review_common <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= block <= 1, review <= review_common <= 1")


@dataclass(frozen=True, slots=True)
class MatchView:
    entity_id: str
    name: str
    matched_name: str
    matched_kind: str
    score: float
    type: str
    programs: tuple[str, ...]
    countries: tuple[str, ...]
    list: str
    name_score: float = 0.0
    agreed: tuple[str, ...] = ()
    disagreed: tuple[str, ...] = ()
    band: Band = "NONE"
    list_version: str = ""


@dataclass(frozen=True, slots=True)
class Scored:
    match: Match
    evidence: Evidence
    list_version: str = ""


def band_of(evidence: Evidence, thresholds: Thresholds) -> Band:
    """BLOCK needs more than a name: an agreeing ID number, IMO or date of birth; or the exact
    listed name when it is rare; or an agreeing country with a name that is not common. Any
    other match in the bands goes to a person (REVIEW)."""
    if evidence.score >= thresholds.block and (
        evidence.strong or evidence.rare_exact or (evidence.country_agrees and evidence.distinctive)
    ):
        return "BLOCK"
    review = thresholds.review if evidence.distinctive or evidence.strong else thresholds.review_common
    if evidence.score >= review:
        return "REVIEW"
    return "NONE"


@dataclass(frozen=True, slots=True)
class Decision:
    is_sanctioned: bool
    review: bool
    matches: list[MatchView]


def view(
    match: Match, evidence: Evidence | None = None, band: Band = "NONE", list_version: str = ""
) -> MatchView:
    e = match.entity
    return MatchView(
        entity_id=e.entity_id,
        name=e.name,
        matched_name=match.matched_name,
        matched_kind=match.matched_kind,
        score=evidence.score if evidence else match.score,
        type=e.entity_type,
        programs=e.programs,
        countries=e.countries,
        list=e.source,
        name_score=match.score,
        agreed=evidence.agreed if evidence else (),
        disagreed=evidence.disagreed if evidence else (),
        band=band,
        list_version=list_version,
    )


def blocklist_view(customer_id: str) -> MatchView:
    return MatchView(
        entity_id=customer_id,
        name=customer_id,
        matched_name=customer_id,
        matched_kind="customer_id",
        score=1.0,
        type="customer",
        programs=(),
        countries=(),
        list=INTERNAL_LIST,
        name_score=1.0,
        agreed=("customer_id",),
        band="BLOCK",
    )


def screenable(name: str | None) -> bool:
    """A name can be screened when it has at least one letter, in any script."""
    return bool(name) and any(ch.isalpha() for ch in name or "")


def decide(scored: list[Scored], thresholds: Thresholds, *, blocked_customer: str | None) -> Decision:
    """Sanctioned on an internal-blocklist hit or a match in the BLOCK band; review when the
    best match is in the REVIEW band. Matches below the review threshold are not shown."""
    ranked = sorted(scored, key=lambda s: (-s.evidence.rank, s.match.entity.entity_id))
    views = [
        view(s.match, s.evidence, band, s.list_version)
        for s in ranked
        if (band := band_of(s.evidence, thresholds)) != "NONE"
    ]
    if blocked_customer is not None:
        return Decision(True, False, [blocklist_view(blocked_customer), *views])
    sanctioned = any(v.band == "BLOCK" for v in views)
    return Decision(sanctioned, not sanctioned and bool(views), views)
