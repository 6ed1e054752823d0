"""Request and response models of the kyc service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from .domain import DocumentType, Status

ID_CHARS_MAX = 64


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CheckStatusRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    customer_id: str = Field(min_length=1, max_length=ID_CHARS_MAX)


# A payment has two parties; a few more leave room without making the call unbounded.
CHECK_STATUSES_MAX = 10


class CheckStatusesRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    customer_ids: list[Annotated[str, Field(min_length=1, max_length=ID_CHARS_MAX)]] = Field(
        min_length=1, max_length=CHECK_STATUSES_MAX
    )


class Limits(BaseModel):
    currency: str
    per_payment_minor: int
    daily_minor: int
    per_payment: str = Field(description="decimal string, e.g. 10000.00")
    daily: str


class CheckStatusResponse(BaseModel):
    customer_id: str
    verified: bool
    status: Status
    tier: int
    limits: Limits
    reasons: list[str] = Field(default_factory=list, description="why the record is in its status")


class CheckStatusesResponse(BaseModel):
    # One per customer id asked, in the same order.
    statuses: list[CheckStatusResponse]


class SanctionsHitMatch(_Strict):
    entity_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    score: float = Field(ge=0, le=1)
    band: Literal["BLOCK", "REVIEW"]


class SanctionsHitRequest(_Strict):
    """A re-screening hit, sent by the ofac service when a list version adds or changes parties."""

    list_name: str = Field(min_length=1, max_length=64)
    list_version: str = Field(min_length=1, max_length=300)
    screened_name: str = Field(min_length=1, max_length=200)
    matches: list[SanctionsHitMatch] = Field(min_length=1, max_length=20)


class SanctionsHit(BaseModel):
    list_name: str
    list_version: str
    entity_id: str
    entity_name: str
    score: float
    band: str
    screened_name: str
    created_at: datetime


class SanctionsHitsResponse(BaseModel):
    hits: list[SanctionsHit]


DOCUMENT_TYPE_SYNONYMS = {
    "DRIVER_LICENSE": "DRIVERS_LICENSE",
    "DRIVING_LICENSE": "DRIVERS_LICENSE",
    "DRIVER_LICENCE": "DRIVERS_LICENSE",
    "DRIVING_LICENCE": "DRIVERS_LICENSE",
    "ID_CARD": "NATIONAL_ID",
    "ID": "NATIONAL_ID",
    "IDENTITY_CARD": "NATIONAL_ID",
}
ADDRESS_PARTS_MAX = 10


class VerificationRequest(BaseModel):
    """Unknown fields are ignored; `name` is accepted for `full_name`, document types in any
    case and common spellings, and an address as text or as an object of parts."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    full_name: str = Field(min_length=2, max_length=200, validation_alias=AliasChoices("full_name", "name"))
    date_of_birth: date
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")
    address: str = Field(min_length=5, max_length=500)
    document_type: DocumentType
    document_number: str = Field(min_length=1, max_length=40)

    @field_validator("document_type", mode="before")
    @classmethod
    def _document_type(cls, value: object) -> object:
        if isinstance(value, str):
            key = value.strip().upper().replace(" ", "_").replace("-", "_").replace("'", "")
            return DOCUMENT_TYPE_SYNONYMS.get(key, key)
        return value

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: object) -> object:
        if isinstance(value, dict) and len(value) <= ADDRESS_PARTS_MAX:
            return ", ".join(
                str(part) for part in value.values() if isinstance(part, (str, int)) and part != ""
            )
        return value


class ReviewRequest(_Strict):
    reviewer: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=1000)
    tier: int | None = Field(default=None, ge=1, le=3, description="approve only; default: at least tier 1")


class KycRecord(BaseModel):
    customer_id: str
    status: Status
    verified: bool
    tier: int
    limits: Limits
    reasons: list[str]
    full_name: str | None
    date_of_birth: date | None
    country: str | None
    document_type: str | None
    document_last4: str | None
    verification_id: UUID | None
    reviewed_by: str | None
    review_note: str | None
    version: int
    updated_at: datetime


class Tier(BaseModel):
    tier: int
    name: str
    limits: Limits


class TiersResponse(BaseModel):
    tiers: list[Tier]


class ReviewQueueResponse(BaseModel):
    records: list[KycRecord]
