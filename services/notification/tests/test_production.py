"""Production wiring: no dev inbox, providers called over HTTP, placeholder secrets refused."""

from __future__ import annotations

import httpx
import pytest
from notification.main import NotificationSettings, create_app
from paykit.testing import production_identity, running_app

from .conftest import account_contract

STRONG = "a-long-random-production-secret-value"


def production_settings(database_url: str) -> NotificationSettings:
    return NotificationSettings(
        app_env="production",
        postgres_url=database_url,
        jwt_secret=STRONG,
        **production_identity("notification"),
        twilio_account_sid="AC123",
        twilio_auth_token=STRONG,
        twilio_from_number="+15550001111",
        twilio_api_url="https://twilio.test",
    )


async def test_production_sends_sms_through_twilio_and_has_no_dev_inbox(database_url: str) -> None:
    seen: list[httpx.Request] = []

    def twilio(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SM1"})

    app = create_app(
        production_settings(database_url),
        account_transport=httpx.MockTransport(account_contract),
        provider_transport=httpx.MockTransport(twilio),
    )
    async with running_app(app) as client:
        body = {
            "customer_id": "cust_001",
            "type": "PAYMENT_CONFIRMED",
            "data": {"transaction_id": "T", "amount": 1},
        }
        response = await client.post("/send-notification", json=body)
        assert (await client.get("/dev/inbox")).status_code == 404
    results = {r["channel"]: r for r in response.json()["results"]}
    assert results["sms"] == {
        "channel": "sms",
        "success": True,
        "recipient": "***890",
        "message_id": "SM1",
        "error": None,
    }
    # No email provider configured: it fails visibly instead of pretending.
    assert results["email"]["error"] == "CHANNEL_NOT_CONFIGURED"
    [request] = seen
    assert request.url.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["authorization"].startswith("Basic ")
    form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
    assert form["To"] == "%2B1234567890" and form["From"] == "%2B15550001111"


def test_production_refuses_a_placeholder_provider_token(database_url: str) -> None:
    # pydantic wraps the InsecureSettingsError in its ValidationError (both ValueErrors).
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        NotificationSettings(
            app_env="production",
            postgres_url=database_url,
            jwt_secret=STRONG,
            twilio_account_sid="AC123",
            twilio_auth_token="change-me",
            twilio_from_number="+15550001111",
        )


async def test_a_failure_later_in_a_batch_never_texts_an_earlier_customer_twice(
    database_url: str, redis_url: str
) -> None:
    """A provider's message cannot be rolled back: with one, events are not handled in one
    transaction per batch, so a retried event never re-sends the ones before it."""
    import asyncio

    from paykit.events import RedisStreamsTransport, new_event

    texts: list[str] = []
    outage = [3]  # the account service fails the first lookups of cust_002

    def twilio(request: httpx.Request) -> httpx.Response:
        texts.append(dict(x.split("=", 1) for x in request.content.decode().split("&"))["To"])
        return httpx.Response(201, json={"sid": f"SM{len(texts)}"})

    def account(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("cust_002") and outage[0] > 0:
            outage[0] -= 1
            return httpx.Response(503, json={"code": "UNAVAILABLE"})
        return account_contract(request)

    settings = production_settings(database_url).model_copy(
        update={"redis_url": redis_url, "events_poll_interval_ms": 50, "http_retries_max": 0}
    )
    publisher = RedisStreamsTransport.from_url(redis_url)
    try:
        for customer in ("cust_001", "cust_002"):
            event = new_event(
                source="confirm",
                type="payment.completed",
                subject=f"pay_{customer}",
                data={"transaction_id": f"T_{customer}", "customer_id": customer, "amount_minor": 100,
                      "currency": "USD"},
            )  # fmt: skip
            await publisher.publish("payment-events", event.subject or "", event.to_json(), {})
        app = create_app(
            settings,
            account_transport=httpx.MockTransport(account),
            provider_transport=httpx.MockTransport(twilio),
        )
        async with running_app(app):
            for _ in range(200):
                if outage[0] == 0 and len(texts) >= 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
    finally:
        await publisher.aclose()
    assert texts == ["%2B1234567890"]  # cust_001 once; cust_002 has no phone, its email is unconfigured
