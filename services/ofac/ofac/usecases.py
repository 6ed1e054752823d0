"""Use cases of the ofac service. No database: the state is the loaded list."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from paykit import ProblemError

from .domain import Decision, MatchView, Scored, Thresholds, decide, screenable, view
from .index import Filters, Match, ScreeningIndex
from .lists import ListChangeUnannounced, ListHolder, ListShrankError
from .matching import Evidence, Query, Weights, evaluate
from .sdnfile import ListFormatError
from .sources import ListSourceError

log = logging.getLogger("ofac.usecases")


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    thresholds: Thresholds
    blocklist: frozenset[str]
    matches_max: int
    weights: Weights = field(default_factory=Weights)


@dataclass(frozen=True, slots=True)
class Screening:
    decision: Decision
    list_version: str


def current_index(holder: ListHolder) -> ScreeningIndex:
    try:
        return holder.current
    except ListSourceError:
        raise ProblemError(503, "SANCTIONS_LIST_UNAVAILABLE", "No sanctions list is loaded") from None


def nothing_to_screen(detail: str) -> ProblemError:
    """A caller bug must never turn into a pass: nothing screened is an error, not "clear"."""
    return ProblemError(422, "NOTHING_TO_SCREEN", detail)


def check_sanctions(
    holder: ListHolder, policy: ScreeningPolicy, *, customer_id: str | None, query: Query | None
) -> Screening:
    blocked = customer_id if customer_id and customer_id in policy.blocklist else None
    if blocked is None and (query is None or not screenable(query.name)):
        raise nothing_to_screen("The name to screen is empty or has no letters")
    index = current_index(holder)  # one list for the whole screening, whatever reloads meanwhile
    scored = screen(index, policy, query) if query is not None and screenable(query.name) else []
    return Screening(decide(scored, policy.thresholds, blocked_customer=blocked), index.version)


def screen(index: ScreeningIndex, policy: ScreeningPolicy, query: Query) -> list[Scored]:
    """Name candidates from the index, each scored with the identifiers both sides have. An
    agreeing identifier can lift a weaker name into the bands, so for the entities that can
    agree the name search looks that much lower."""
    review = policy.thresholds.review
    if query.has_identifiers:
        # Only an entity born that year or holding one of the numbers can get the ID/DOB
        # lift; any other gains at most an agreeing country.
        birth_year = query.birth_date.year if query.birth_date else None
        matches = index.search(
            query.name,
            limit=policy.matches_max * 3,
            min_score=max(0.0, review - policy.weights.country_agrees),
            lifted=index.identified_by(birth_year, query.id_numbers),
            lifted_min_score=max(0.0, review - policy.weights.id_agrees),
        )
    else:
        matches = index.search(query.name, limit=policy.matches_max * 3, min_score=review)
    scored = [
        Scored(
            m, evidence_of(index, policy, query, m), index.source_versions.get(m.entity.source, index.version)
        )
        for m in matches
    ]
    scored.sort(key=lambda s: (-s.evidence.rank, s.match.entity.entity_id))
    return scored[: policy.matches_max]


def evidence_of(index: ScreeningIndex, policy: ScreeningPolicy, query: Query, match: Match) -> Evidence:
    """A name candidate weighed with everything the query carries (DOB, country, type, ID
    numbers)."""
    return evaluate(
        query,
        match.entity,
        index.countries_of_entity(match.entity),
        name_score=match.score,
        exact=match.exact,
        distinctive=match.distinctive,
        rare=match.rare,
        weights=policy.weights,
    )


def search(
    holder: ListHolder, *, name: str, limit: int, min_score: float, filters: Filters
) -> tuple[list[MatchView], str]:
    """Matches only: the sanctions decision belongs to check-sanctions."""
    index = current_index(holder)
    matches = index.search(name, limit=limit, min_score=min_score, filters=filters)
    versions = index.source_versions
    return [
        view(m, list_version=versions.get(m.entity.source, index.version)) for m in matches
    ], index.version


def list_status(holder: ListHolder) -> list[dict[str, object]]:
    """Each list: version, parties, age of the last good fetch, and the last error if any."""
    now = datetime.now(UTC)
    return [
        {
            "list": s.spec.name,
            "format": s.spec.format,
            "version": s.version,
            "parties": len(s.entities),
            "loaded_at": s.loaded_at.isoformat() if s.loaded_at else None,
            "age_s": round(age, 1) if (age := s.age_s(now)) is not None else None,
            "last_error": s.last_error,
            "failures": s.failures,
        }
        for s in holder.states()
    ]


def lists_fresh(holder: ListHolder, stale_after_s: float) -> bool:
    """Every list loaded and confirmed within `stale_after_s`."""
    now = datetime.now(UTC)
    return all((age := s.age_s(now)) is not None and age <= stale_after_s for s in holder.states())


async def reload_list(holder: ListHolder, source: str | None) -> tuple[ScreeningIndex, str | None]:
    previous = holder.current.version if holder.loaded else None
    try:
        index = await holder.load(source)
    except ListShrankError as exc:
        raise ProblemError(422, "LIST_SHRANK", str(exc)) from None
    except ListSourceError as exc:
        raise ProblemError(422, "LIST_SOURCE_INVALID", str(exc)) from None
    except ListFormatError as exc:
        raise ProblemError(422, "LIST_FORMAT_INVALID", str(exc)) from None
    except ListChangeUnannounced as exc:
        raise ProblemError(503, "LIST_CHANGE_UNAVAILABLE", str(exc), headers={"Retry-After": "1"}) from None
    log.info("sanctions list %s loaded (%d entities), was %s", index.version, index.entity_count, previous)
    return index, previous
