"""Codes are read only by people and tests (ops) and by the gateway for its own customer;
only the OTP service sends through this service."""

from __future__ import annotations

import httpx
from paykit.testing import service_headers


async def test_the_inbox_is_closed_to_other_services_and_other_customers(client: httpx.AsyncClient) -> None:
    params = {"recipient": "cust_001"}
    for signed, status in [
        ({"Authorization": ""}, 401),
        (service_headers("confirm", "notification"), 403),
        (service_headers("gateway", "notification"), 403),  # acting for nobody
        (service_headers("gateway", "notification", subject="cust_002"), 403),
    ]:
        response = await client.get("/dev/inbox", params=params, headers=signed)
        assert response.status_code == status, response.text
    own = service_headers("gateway", "notification", subject="cust_001")
    assert (await client.get("/dev/inbox", params=params, headers=own)).status_code == 200
    assert (await client.get("/dev/inbox", headers=service_headers("ops", "notification"))).status_code == 200


async def test_only_otp_sends(client: httpx.AsyncClient) -> None:
    body = {"customer_id": "cust_001", "type": "OTP_REQUIRED", "channels": ["sms"], "data": {"otp": "1"}}
    sent = await client.post(
        "/send-notification", json=body, headers=service_headers("confirm", "notification")
    )
    assert sent.status_code == 403 and sent.json()["code"] == "CALLER_NOT_ALLOWED"
    inbox = await client.get("/dev/inbox", headers=service_headers("ops", "notification"))
    assert inbox.json()["messages"] == []
