"""Typed client of the account service: where a customer's contact details come from."""

from __future__ import annotations

from urllib.parse import quote

from paykit.errors import ProblemError
from paykit.http import ServiceCallError, ServiceClient

from .domain import Contact


class AccountClient(ServiceClient):
    """Contacts from the account service (a ServiceClient named "account")."""

    async def get_contact(self, customer_id: str) -> Contact:
        """GET /customers/{id}; 404 CUSTOMER_NOT_FOUND, 503 when the account service is down."""
        try:
            response = await self.call("GET", f"/customers/{quote(customer_id, safe='')}")
        except ServiceCallError:
            raise ProblemError(
                503, "ACCOUNT_SERVICE_UNAVAILABLE", "Contact details are unavailable; try again"
            ) from None
        if response.status_code == 404:
            raise ProblemError(404, "CUSTOMER_NOT_FOUND", "Unknown customer")
        if response.status_code != 200:
            raise ProblemError(502, "ACCOUNT_SERVICE_ERROR", "Contact details could not be read")
        body = response.json()
        return Contact(
            customer_id=str(body.get("customer_id", customer_id)),
            full_name=str(body.get("full_name") or ""),
            email=body.get("email") or None,
            phone=body.get("phone") or None,
        )
