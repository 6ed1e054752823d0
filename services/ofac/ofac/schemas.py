"""Request and response models of the ofac service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

NAME_CHARS_MAX = 200
ID_CHARS_MAX = 64
SOURCE_CHARS_MAX = 500


class CheckSanctionsRequest(BaseModel):
    """The seed's body: `{customer_id, name, country}`; `name` is what gets screened."""

    model_config = ConfigDict(extra="ignore")

    customer_id: str | None = Field(default=None, max_length=ID_CHARS_MAX)
    name: str | None = Field(default=None, max_length=NAME_CHARS_MAX)
    country: str | None = Field(default=None, max_length=64)


class MatchOut(BaseModel):
    entity_id: str
    name: str
    matched_name: str
    matched_kind: str = Field(description="primary | aka | fka | nka | customer_id")
    score: float = Field(ge=0, le=1)
    type: str
    programs: list[str]
    countries: list[str]
    list: str


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


class ReloadResponse(ListInfo):
    previous_version: str | None
    changed: bool
