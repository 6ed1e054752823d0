"""The screening decision: pure rules over a search's matches."""

from __future__ import annotations

from dataclasses import dataclass

from .index import LIST_NAME, Match

INTERNAL_LIST = "INTERNAL_BLOCKLIST"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """At or above `block` a match sanctions; in [review, block) a human must look."""

    block: float
    review: float

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.block <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= block <= 1")


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


@dataclass(frozen=True, slots=True)
class Decision:
    is_sanctioned: bool
    review: bool
    matches: list[MatchView]


def view(match: Match) -> MatchView:
    e = match.entity
    return MatchView(
        entity_id=e.entity_id,
        name=e.name,
        matched_name=match.matched_name,
        matched_kind=match.matched_kind,
        score=match.score,
        type=e.entity_type,
        programs=e.programs,
        countries=e.countries,
        list=LIST_NAME,
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
    )


def screenable(name: str | None) -> bool:
    """A name can be screened when it has at least one letter, in any script."""
    return bool(name) and any(ch.isalpha() for ch in name or "")


def decide(matches: list[Match], thresholds: Thresholds, *, blocked_customer: str | None) -> Decision:
    """Sanctioned on an internal-blocklist hit or a match at the block threshold; review when
    the best match lies in the review band. `matches` are best first."""
    views = [view(m) for m in matches]
    if blocked_customer is not None:
        return Decision(True, False, [blocklist_view(blocked_customer), *views])
    best = matches[0].score if matches else 0.0
    sanctioned = best >= thresholds.block
    return Decision(sanctioned, not sanctioned and best >= thresholds.review, views)
