"""Typed client of the OFAC service."""

from __future__ import annotations

from datetime import date

import httpx
from paykit.http import ServiceCallError, ServiceClient
from paykit.identity import ServiceIdentity
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .domain import Screening


class _SanctionsMatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    entity_id: str
    score: float


class _SanctionsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    is_sanctioned: bool
    review: bool = False
    list_version: str | None = None
    matches: list[_SanctionsMatch] = Field(default_factory=list)


class OfacClient(ServiceClient):
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        identity: ServiceIdentity | None = None,
    ) -> None:
        # A POST without an idempotency key: one attempt, bounded by the timeout.
        super().__init__("ofac", base_url, timeout_s=timeout_s, transport=transport, identity=identity)

    async def screen(
        self,
        customer_id: str,
        name: str,
        country: str,
        *,
        date_of_birth: date | None = None,
        document_number: str | None = None,
    ) -> Screening:
        """The screening of `name` with what else KYC knows (a person, their date of birth and
        document): OFAC blocks on a name only with an agreeing identifier, and a conflicting
        date of birth clears a namesake. `available=False` when OFAC cannot answer."""
        body: dict[str, object] = {
            "customer_id": customer_id,
            "name": name,
            "country": country,
            "entity_type": "individual",
        }
        if date_of_birth is not None:
            body["date_of_birth"] = date_of_birth.isoformat()
        if document_number:
            body["id_numbers"] = [document_number]
        try:
            response = await self.call("POST", "/check-sanctions", json=body)
        except ServiceCallError:
            return Screening(available=False)
        if response.status_code != 200:
            return Screening(available=False)
        try:
            answer = _SanctionsAnswer.model_validate_json(response.content)
        except ValidationError:
            return Screening(available=False)
        best = answer.matches[0] if answer.matches else None
        return Screening(
            available=True,
            is_sanctioned=answer.is_sanctioned,
            review=answer.review,
            list_version=answer.list_version,
            best_score=best.score if best else None,
            best_entity_id=best.entity_id if best else None,
        )
