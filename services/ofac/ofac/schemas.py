"""Request and response models of the ofac service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_CHARS_MAX = 200
ID_CHARS_MAX = 64
SOURCE_CHARS_MAX = 500


ID_NUMBERS_MAX = 10
EntityType = Literal["individual", "person", "entity", "organisation", "organization", "vessel", "aircraft"]


class CheckSanctionsRequest(BaseModel):
    """The seed's body `{customer_id, name, country}`; `name` is what gets screened. Every
    other field is optional evidence: what agrees can block, what conflicts clears."""

    model_config = ConfigDict(extra="ignore")

    customer_id: str | None = Field(default=None, max_length=ID_CHARS_MAX)
    name: str | None = Field(default=None, max_length=NAME_CHARS_MAX)
    country: str | None = Field(default=None, max_length=64, description="ISO-2 code or name")
    entity_type: EntityType | None = None
    date_of_birth: date | None = None
    birth_year: int | None = Field(default=None, ge=1850, le=2100)
    nationality: str | None = Field(default=None, max_length=64)
    address_country: str | None = Field(default=None, max_length=64)
    id_numbers: list[str] = Field(
        default_factory=list,
        max_length=ID_NUMBERS_MAX,
        description="Passport, national ID, tax ID, registration numbers, IMO...",
    )
    imo: str | None = Field(default=None, max_length=ID_CHARS_MAX)


class MatchOut(BaseModel):
    entity_id: str
    name: str
    matched_name: str
    matched_kind: str = Field(description="primary | aka | fka | nka | customer_id")
    score: float = Field(ge=0, le=1)
    type: str
    programs: list[str]
    countries: list[str]
    name_score: float = Field(ge=0, le=1, description="the name alone, before identifiers")
    band: Literal["BLOCK", "REVIEW", "NONE"]
    agreed: list[str] = Field(description="fields that agree: name, id_number, date_of_birth, ...")
    disagreed: list[str] = Field(description="fields that conflict: date_of_birth, entity_type, country")
    list_version: str = Field(default="", description="the version of that list this match comes from")
    # Last: the field's name shadows the builtin `list` in the rest of the class body.
    list: str  # the list it is on, e.g. OFAC_SDN


class ThresholdsOut(BaseModel):
    block: float
    review: float


class CheckSanctionsResponse(BaseModel):
    customer_id: str | None
    screened_name: str | None
    is_sanctioned: bool
    review: bool
    list_version: str
    thresholds: ThresholdsOut
    matches: list[MatchOut]
    check_timestamp: datetime
    source: str = "OFAC_SDN_LIST"


# A payment's payer, payee and a payee name; a few more leave room without being unbounded.
BATCH_CHECKS_MAX = 10


class CheckSanctionsBatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checks: list[CheckSanctionsRequest] = Field(min_length=1, max_length=BATCH_CHECKS_MAX)


class CheckSanctionsBatchResponse(BaseModel):
    # One per check, in the order asked.
    results: list[CheckSanctionsResponse]


class SearchResponse(BaseModel):
    query: str
    list_version: str
    matches: list[MatchOut]


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None,
        max_length=SOURCE_CHARS_MAX,
        description="A directory holding sdn.csv (+ add/alt/sdn_comments) or a base URL serving them; "
        "default: the configured OFAC_LIST_SOURCE",
    )


class ListInfo(BaseModel):
    list_version: str
    entities: int
    names: int
    loaded_at: datetime
    lists: list[dict[str, object]] = Field(
        default_factory=list,
        description="each list: version, parties, age_s of its last good fetch, last_error",
    )


class ReloadResponse(ListInfo):
    previous_version: str | None
    changed: bool
