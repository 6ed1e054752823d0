"""The account service (a customer's name for the seed's id-only callers; every customer, a
page at a time, for re-screening) and the KYC service (where re-screening hits are recorded
and reviewed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from paykit.errors import ProblemError
from paykit.http import ServiceCallError, ServiceClient


@dataclass(frozen=True)
class Customer:
    customer_id: str
    full_name: str
    country: str | None


class AccountClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    async def customer(self, customer_id: str) -> Customer:
        try:
            # Quoted: the id is the caller's text, never part of the path's structure.
            response = await self.http.call("GET", f"/customers/{quote(customer_id, safe='')}")
        except ServiceCallError as exc:
            # Fail closed: a screening we could not run is never "clear".
            raise ProblemError(
                503, "CUSTOMER_LOOKUP_UNAVAILABLE", "The customer's name cannot be read now"
            ) from exc
        if response.status_code == 404:
            raise ProblemError(
                404, "CUSTOMER_NOT_FOUND", f"No customer {customer_id}; send `name` to screen a name"
            )
        if response.status_code != 200:
            raise ProblemError(503, "CUSTOMER_LOOKUP_UNAVAILABLE", "The customer's name cannot be read now")
        body = response.json()
        return Customer(customer_id, str(body["full_name"]), body.get("country"))


@dataclass(frozen=True)
class CustomersPage:
    customers: list[Customer]
    next_after: str | None


class RescreenCallError(Exception):
    """A dependency of re-screening did not answer as agreed; the run stops and is retried
    with the next list change (or by an operator) rather than skipping customers silently."""


async def customers_page(client: AccountClient, after: str, limit: int) -> CustomersPage:
    try:
        response = await client.http.call("GET", "/customers", params={"after": after, "limit": limit})
    except ServiceCallError as exc:
        raise RescreenCallError(f"account: {exc}") from None
    if response.status_code != 200:
        raise RescreenCallError(f"account answered {response.status_code} listing customers")
    body = response.json()
    customers = [Customer(c["customer_id"], str(c["full_name"]), c.get("country")) for c in body["customers"]]
    return CustomersPage(customers, body.get("next_after"))


class KycClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    async def record_hit(self, customer_id: str, body: dict[str, Any]) -> None:
        """Idempotent on (customer, list version, listed party): safe to retry."""
        try:
            response = await self.http.call(
                "POST",
                f"/customers/{customer_id}/sanctions-hits",
                json=body,
                idempotency_key=f"{customer_id}:{body['list_name']}:{body['list_version']}",
            )
        except ServiceCallError as exc:
            raise RescreenCallError(f"kyc: {exc}") from None
        if response.status_code != 200:
            raise RescreenCallError(f"kyc answered {response.status_code} recording a hit")
