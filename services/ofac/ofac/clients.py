"""The account service, for the seed's callers that send only a customer id: the name to
screen is the customer's own, as the bank knows it."""

from __future__ import annotations

from dataclasses import dataclass

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
            response = await self.http.call("GET", f"/customers/{customer_id}")
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
