"""Contact details are looked up at the account service and kept for a short while, in a
bounded cache: a burst of notices for one customer asks once."""

from __future__ import annotations

import httpx
from notification.clients import ContactCache
from notification.domain import Contact
from notification.main import NotificationSettings, create_app
from paykit.testing import running_app

from .conftest import account_contract


def contact(customer_id: str) -> Contact:
    return Contact(customer_id=customer_id, full_name="N", email=None, phone=None)


def test_the_cache_forgets_after_its_ttl_and_beyond_its_size() -> None:
    now = [0.0]
    cache = ContactCache(ttl_s=60, size_max=2, clock=lambda: now[0])
    cache.put("a", contact("a"))
    cache.put("b", contact("b"))
    assert cache.get("a") == contact("a")
    cache.put("c", contact("c"))  # over the bound: the least recently used ("b") goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (contact("a"), None, contact("c"))
    now[0] = 60.0
    assert cache.get("a") is None and cache.get("c") is None


async def test_notices_for_one_customer_ask_the_account_service_once(database_url: str) -> None:
    asked: list[str] = []

    def account(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return account_contract(request)

    settings = NotificationSettings(app_env="test", postgres_url=database_url)
    app = create_app(settings, account_transport=httpx.MockTransport(account))
    body = {
        "customer_id": "cust_001",
        "type": "PAYMENT_CONFIRMED",
        "data": {"transaction_id": "T", "amount": 1},
    }
    async with running_app(app) as client:
        for _ in range(3):
            assert (await client.post("/send-notification", json=body)).status_code == 200
        unknown = {**body, "customer_id": "cust_404"}
        for _ in range(2):
            assert (await client.post("/send-notification", json=unknown)).status_code == 404
    assert asked == ["/customers/cust_001", "/customers/cust_404", "/customers/cust_404"]
