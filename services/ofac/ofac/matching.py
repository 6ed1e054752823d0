"""Entity-level scoring: a name score adjusted by the identifiers both sides have.

Modelled on how the field's screeners weigh evidence (OpenSanctions' logic-v1, Moov
Watchman's v2): the name is the search key, identifiers decide. A matching ID number or IMO
raises the score, a matching date of birth raises it, a conflicting date of birth or entity
type drops it; countries move it a little. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .identifiers import BirthDate, normalize_id
from .sdnfile import Entity

ENTITY_TYPES = {
    "individual": "individual", "person": "individual", "entity": "entity",
    "organisation": "entity", "organization": "entity", "company": "entity",
    "legalentity": "entity", "vessel": "vessel", "aircraft": "aircraft", "airplane": "aircraft",
}  # fmt: skip
# A name scored at least this is shown as agreeing (below it only identifiers brought it in).
NAME_AGREES_MIN = 0.5


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each kind of evidence moves a name score (configurable in settings)."""

    id_agrees: float = 0.10
    birth_date_agrees: float = 0.05
    birth_date_conflicts: float = 0.20
    type_conflicts: float = 0.25
    country_agrees: float = 0.02
    country_conflicts: float = 0.05

    @property
    def bonus_max(self) -> float:
        return self.id_agrees + self.birth_date_agrees + self.country_agrees


@dataclass(frozen=True, slots=True)
class Query:
    """What a payment or a customer record says about the party being screened."""

    name: str
    entity_type: str | None = None  # individual | entity | vessel | aircraft
    birth_date: BirthDate | None = None
    countries: frozenset[str] = frozenset()  # country keys (countries.country_key)
    id_numbers: frozenset[str] = frozenset()  # normalize_id

    @property
    def has_identifiers(self) -> bool:
        return bool(self.birth_date or self.id_numbers)

    @classmethod
    def build(
        cls,
        name: str,
        *,
        entity_type: str | None = None,
        birth_date: date | None = None,
        birth_year: int | None = None,
        countries: frozenset[str] = frozenset(),
        id_numbers: list[str] | tuple[str, ...] = (),
    ) -> Query:
        dob = BirthDate.from_date(birth_date) if birth_date else BirthDate(birth_year) if birth_year else None
        kind = ENTITY_TYPES.get((entity_type or "").lower().replace(" ", "").replace("_", ""))
        ids = frozenset(n for i in id_numbers if (n := normalize_id(i)))
        return cls(name, kind, dob, countries, ids)


@dataclass(frozen=True, slots=True)
class Evidence:
    name_score: float
    score: float
    agreed: tuple[str, ...]
    disagreed: tuple[str, ...]
    # An identifier that names one party: an ID number, an IMO, a date of birth.
    strong: bool
    # The name is the listed name (after normalisation) and not made of common name parts.
    rare_exact: bool
    country_agrees: bool
    distinctive: bool
    # The score before it is capped at 1: ranks two exact names apart by what else agrees.
    rank: float = 0.0


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


def evaluate(
    query: Query,
    entity: Entity,
    entity_countries: frozenset[str],
    *,
    name_score: float,
    exact: bool,
    distinctive: bool,
    rare: bool,
    weights: Weights,
) -> Evidence:
    agreed: list[str] = ["name"] if name_score >= NAME_AGREES_MIN else []
    disagreed: list[str] = []
    score = name_score
    strong = False
    listed_ids = entity.identity.id_numbers
    if query.id_numbers & listed_ids:
        score += weights.id_agrees
        agreed.append("id_number")
        strong = True
    if query.birth_date is not None and entity.identity.birth_dates:
        if any(query.birth_date.agrees(d) for d in entity.identity.birth_dates):
            score += weights.birth_date_agrees
            agreed.append("date_of_birth")
            strong = True
        else:
            score -= weights.birth_date_conflicts
            disagreed.append("date_of_birth")
    if query.entity_type is not None:
        if query.entity_type == entity.entity_type:
            agreed.append("entity_type")
        else:
            score -= weights.type_conflicts
            disagreed.append("entity_type")
    country_agrees = False
    if query.countries and entity_countries:
        if query.countries & entity_countries:
            score += weights.country_agrees
            agreed.append("country")
            country_agrees = True
        else:
            score -= weights.country_conflicts
            disagreed.append("country")
    return Evidence(
        name_score=name_score,
        score=_clamp(score),
        agreed=tuple(agreed),
        disagreed=tuple(disagreed),
        strong=strong,
        rare_exact=exact and rare,
        country_agrees=country_agrees,
        distinctive=distinctive,
        rank=round(score, 4),
    )
