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


class AccountOwner(_Answer):
    account_number: str
    customer_id: str


class AccountClient(ServiceClient):
    async def get_account_owner(self, account_number: str) -> str | None:
        """The customer who owns the account, or None when account does not know it."""
        response = await self.call("GET", f"/account/{quote(account_number, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(AccountOwner, self.service, response).customer_id

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer's name and country, or None when account does not know them."""
        response = await self.call("GET", f"/customers/{quote(customer_id, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(Customer, self.service, response)


class OfacClient(ServiceClient):
    async def check_sanctions(
        self, customer_id: str | None, name: str, country: str | None
    ) -> SanctionsAnswer:
        body = {"customer_id": customer_id, "name": name, "country": country}
        response = await self.call("POST", "/check-sanctions", json=body)
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(SanctionsAnswer, self.service, response)


class KycClient(ServiceClient):
    async def check_status(self, customer_id: str) -> KycAnswer | None:
        """The customer's KYC status and tier limits, or None when KYC has no record."""
        response = await self.call("POST", "/check-status", json={"customer_id": customer_id})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _unexpected(self.service, response)
        return _parse(KycAnswer, self.service, response)
