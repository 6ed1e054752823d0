"""Use cases of the ofac service. No database: the state is the loaded list."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from paykit import ProblemError

from .domain import Decision, MatchView, Thresholds, decide, screenable, view
from .index import Filters, ScreeningIndex
from .lists import ListHolder
from .sdnfile import ListFormatError
from .sources import ListSourceError

log = logging.getLogger("ofac.usecases")


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    thresholds: Thresholds
    blocklist: frozenset[str]
    matches_max: int


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
    holder: ListHolder, policy: ScreeningPolicy, *, customer_id: str | None, name: str | None
) -> Screening:
    blocked = customer_id if customer_id and customer_id in policy.blocklist else None
    if blocked is None and not screenable(name):
        raise nothing_to_screen("The name to screen is empty or has no letters")
    index = current_index(holder)  # one list for the whole screening, whatever reloads meanwhile
    matches = []
    if name and screenable(name):
        matches = index.search(name, limit=policy.matches_max, min_score=policy.thresholds.review)
    return Screening(decide(matches, policy.thresholds, blocked_customer=blocked), index.version)


def search(
    holder: ListHolder, *, name: str, limit: int, min_score: float, filters: Filters
) -> tuple[list[MatchView], str]:
    """Matches only: the sanctions decision belongs to check-sanctions."""
    index = current_index(holder)
    matches = index.search(name, limit=limit, min_score=min_score, filters=filters)
    return [view(m) for m in matches], index.version


async def reload_list(holder: ListHolder, source: str) -> tuple[ScreeningIndex, str | None]:
    previous = holder.current.version if holder.loaded else None
    try:
        index = await holder.load(source)
    except ListSourceError as exc:
        raise ProblemError(422, "LIST_SOURCE_INVALID", str(exc)) from None
    except ListFormatError as exc:
        raise ProblemError(422, "LIST_FORMAT_INVALID", str(exc)) from None
    log.info("sanctions list %s loaded (%d entities), was %s", index.version, index.entity_count, previous)
    return index, previous
