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
