"""Typed client of the account service: where a customer's contact details come from, kept
a short while in a bounded cache (contact details decide where a message goes, never whether
money moves: a change reaches notices within the cache's TTL)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from paykit.errors import ProblemError
from paykit.http import ServiceCallError, ServiceClient

from .domain import Contact

CONTACT_TTL_S = 60.0
CONTACTS_CACHED_MAX = 10_000


class ContactCache:
    """Contacts by customer id, each for `ttl_s`, at most `size_max` (least recently used
    first out)."""

    def __init__(self, *, ttl_s: float, size_max: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s < 0 or size_max < 0:
            raise ValueError("ttl_s and size_max must not be negative")
        self._ttl_s = ttl_s
        self._size_max = size_max
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Contact]] = OrderedDict()

    def get(self, customer_id: str) -> Contact | None:
        found = self._entries.get(customer_id)
        if found is None:
            return None
        if self._clock() >= found[0]:
            del self._entries[customer_id]
            return None
        self._entries.move_to_end(customer_id)
        return found[1]

    def put(self, customer_id: str, contact: Contact) -> None:
        if self._size_max == 0 or self._ttl_s == 0:
            return
        self._entries[customer_id] = (self._clock() + self._ttl_s, contact)
        self._entries.move_to_end(customer_id)
        while len(self._entries) > self._size_max:
            self._entries.popitem(last=False)


class AccountClient(ServiceClient):
    """Contacts from the account service (a ServiceClient named "account"), cached."""

    def __init__(
        self,
        *args: Any,
        contact_ttl_s: float = CONTACT_TTL_S,
        contacts_cached_max: int = CONTACTS_CACHED_MAX,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._contacts = ContactCache(ttl_s=contact_ttl_s, size_max=contacts_cached_max)

    async def get_contact(self, customer_id: str) -> Contact:
        """GET /customers/{id}; 404 CUSTOMER_NOT_FOUND, 503 when the account service is down.
        A contact found is kept for a while; an unknown customer is asked about again."""
        contact = self._contacts.get(customer_id)
        if contact is None:
            contact = await self._fetch_contact(customer_id)
            self._contacts.put(customer_id, contact)
        return contact

    async def _fetch_contact(self, customer_id: str) -> Contact:
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
