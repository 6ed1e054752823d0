"""POST /send-notification and the dev inbox, with contacts from the account contract."""

from __future__ import annotations

import asyncpg
import httpx
from notification.main import NotificationSettings, create_app
from paykit.testing import running_app


async def inbox(client: httpx.AsyncClient, recipient: str) -> list[dict[str, object]]:
    response = await client.get("/dev/inbox", params={"recipient": recipient})
    assert response.status_code == 200, response.text
    messages: list[dict[str, object]] = response.json()["messages"]
    return messages


async def test_otp_code_reaches_the_phone_and_is_not_stored_in_the_log(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = {
        "customer_id": "cust_001",
        "type": "OTP_REQUIRED",
        "channels": ["sms"],
        "data": {"otp": "493817", "transaction_id": "TXN1", "expires_in_s": 300},
    }
    response = await client.post("/send-notification", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["success"] is True
    assert result["results"] == [
        {
            "channel": "sms",
            "success": True,
            "recipient": "***890",
            "message_id": result["results"][0]["message_id"],
            "error": None,
        }
    ]
    [message] = await inbox(client, "+1234567890")
    assert "493817" in str(message["body"])
    assert "5 minutes" in str(message["body"])
    assert await inbox(client, "john@example.com") == []
    assert await inbox(client, "cust_001") == [message], "the inbox is readable by customer id too"
    assert await inbox(client, "cust_002") == []
    stored = await db.fetch("SELECT channel, status, body FROM notifications")
    assert [(r["channel"], r["status"]) for r in stored] == [("sms", "SENT")]
    assert "493817" not in stored[0]["body"]


async def test_payment_confirmed_defaults_to_email_and_sms_with_the_seed_wording(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "customer_id": "cust_001",
        "type": "PAYMENT_CONFIRMED",
        "data": {"transaction_id": "TXN9", "amount": 1000},
    }
    response = await client.post("/send-notification", json=body)
    assert response.status_code == 200, response.text
    assert [r["channel"] for r in response.json()["results"]] == ["email", "sms"]
    expected = "Payment of 1000.00 USD confirmed. Transaction ID: TXN9"
    assert [m["body"] for m in await inbox(client, "john@example.com")] == [expected]
    assert [m["body"] for m in await inbox(client, "+1234567890")] == [expected]


async def test_a_channel_without_contact_details_fails_alone(client: httpx.AsyncClient) -> None:
    body = {
        "customer_id": "cust_002",
        "type": "PAYMENT_CONFIRMED",
        "data": {"transaction_id": "T2", "amount_minor": 2550, "currency": "EUR"},
    }
    response = await client.post("/send-notification", json=body)
    results = {r["channel"]: r for r in response.json()["results"]}
    assert response.json()["success"] is False
    assert results["sms"]["error"] == "NO_RECIPIENT"
    assert results["email"]["success"] is True
    [message] = await inbox(client, "jane@example.com")
    assert message["body"] == "Payment of 25.50 EUR confirmed. Transaction ID: T2"


async def test_unknown_customer_is_404_and_sends_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = {"customer_id": "cust_404", "type": "OTP_REQUIRED", "data": {"otp": "123456"}}
    response = await client.post("/send-notification", json=body)
    assert response.status_code == 404
    assert response.json()["code"] == "CUSTOMER_NOT_FOUND"
    assert await db.fetchval("SELECT count(*) FROM dev_inbox") == 0
    assert await db.fetchval("SELECT count(*) FROM notifications") == 0


async def test_bad_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    bad = [
        {"customer_id": "cust_001", "type": "SPAM", "data": {}},
        {"customer_id": "cust_001", "type": "OTP_REQUIRED", "channels": ["fax"], "data": {"otp": "1"}},
        {"customer_id": "cust_001", "type": "PAYMENT_CONFIRMED", "data": {"amount": 5}},
        {
            "customer_id": "cust_001",
            "type": "PAYMENT_CONFIRMED",
            "data": {"transaction_id": "T", "amount": "1.001"},
        },
        {"customer_id": "cust_001", "type": "OTP_REQUIRED", "data": {"otp": "12ab"}},
    ]
    for body in bad:
        response = await client.post("/send-notification", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert await db.fetchval("SELECT count(*) FROM notifications") == 0


async def test_account_service_down_is_503(settings: NotificationSettings) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = create_app(settings, account_transport=httpx.MockTransport(down))
    async with running_app(app) as client:
        body = {"customer_id": "cust_001", "type": "OTP_REQUIRED", "data": {"otp": "123456"}}
        response = await client.post("/send-notification", json=body)
    assert response.status_code == 503
    assert response.json()["code"] == "ACCOUNT_SERVICE_UNAVAILABLE"


async def test_dev_inbox_is_newest_first_and_its_limit_is_capped(client: httpx.AsyncClient) -> None:
    for code in ("111111", "222222", "333333"):
        body = {"customer_id": "cust_001", "type": "OTP_REQUIRED", "data": {"otp": code}}
        assert (await client.post("/send-notification", json=body)).status_code == 200
    response = await client.get("/dev/inbox", params={"recipient": "+1234567890", "limit": 2})
    bodies = [m["body"] for m in response.json()["messages"]]
    assert len(bodies) == 2
    assert "333333" in bodies[0] and "222222" in bodies[1]
    assert (await client.get("/dev/inbox", params={"limit": 10_000})).status_code == 422


async def test_sent_notifications_are_counted(client: httpx.AsyncClient) -> None:
    body = {"customer_id": "cust_001", "type": "OTP_REQUIRED", "data": {"otp": "123456"}}
    await client.post("/send-notification", json=body)
    metrics = (await client.get("/metrics")).text
    assert 'notifications_sent_total{channel="sms",type="OTP_REQUIRED"}' in metrics
