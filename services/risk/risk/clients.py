"""Typed clients of account (customer details), OFAC (sanctions) and KYC (status, limits).

Each answer is validated; anything other than the contract's answer raises
`ServiceUnavailable`, so a confused dependency is treated like a down one (fail closed).
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import httpx
from paykit.http import ServiceClient, ServiceUnavailable
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


AnswerT = TypeVar("AnswerT", bound=_Answer)


class Customer(_Answer):
    customer_id: str
    full_name: str = Field(min_length=1)
    country: str | None = None


class SanctionsAnswer(_Answer):
    is_sanctioned: bool
    review: bool = False
    list_version: str | None = None
    matches: list[dict[str, object]] = Field(default_factory=list)


class KycAnswerLimits(_Answer):
    currency: str
    per_payment_minor: int | None = Field(default=None, ge=0)
    daily_minor: int | None = Field(default=None, ge=0)


class KycAnswer(_Answer):
    customer_id: str
    verified: bool
    status: str | None = None
    tier: int | None = None
    limits: KycAnswerLimits | None = None
    reasons: list[str] = Field(default_factory=list)


def _parse(model: type[AnswerT], service: str, response: httpx.Response) -> AnswerT:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise ServiceUnavailable(service, f"answered {response.status_code} outside its contract") from None


def _unexpected(service: str, response: httpx.Response) -> ServiceUnavailable:
    return ServiceUnavailable(service, f"answered {response.status_code}")


class Party(_Answer):
    """One account of a payment: its owner, with the owner's name and country when known."""

    account_number: str
    customer_id: str | None = None
    customer: Customer | None = None


class Parties(_Answer):
    payer: Party | None = None
    payee: Party | None = None


class _Screenings(_Answer):
    results: list[SanctionsAnswer]


class _KycAnswers(_Answer):
    statuses: list[KycAnswer]


class AccountClient(ServiceClient):
    async def payment_parties(self, from_account: str | None, to_account: str | None) -> Parties:
        """Both accounts of a payment and their owners in one call (None for one not found)."""
        params = {k: v for k, v in (("from_account", from_account), ("to_account", to_account)) if v}
        response = await self.call("GET", "/payment-parties", params=params)
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(Parties, self.service, response)

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer's name and country, or None when account does not know them."""
        response = await self.call("GET", f"/customers/{quote(customer_id, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(Customer, self.service, response)


class OfacClient(ServiceClient):
    async def check_many(self, checks: list[tuple[str | None, str, str | None]]) -> list[SanctionsAnswer]:
        """/check-sanctions for each (customer_id, name, country) in one call, in order."""
        body = {"checks": [{"customer_id": c, "name": n, "country": k} for c, n, k in checks]}
        response = await self.call("POST", "/check-sanctions/batch", json=body)
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        answers = _parse(_Screenings, self.service, response).results
        if len(answers) != len(checks):
            raise ServiceUnavailable(self.service, "answered another number of screenings than asked")
        return answers


class KycClient(ServiceClient):
    async def check_many(self, customer_ids: list[str]) -> list[KycAnswer]:
        """/check-status for each customer in one call, in order (KYC knows every customer:
        one it never saw is UNVERIFIED)."""
        response = await self.call("POST", "/check-statuses", json={"customer_ids": customer_ids})
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        answers = _parse(_KycAnswers, self.service, response).statuses
        if [a.customer_id for a in answers] != customer_ids:
            raise ServiceUnavailable(self.service, "answered for other customers than asked")
        return answers
