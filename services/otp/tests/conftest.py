"""Fixtures of the otp tests: the OTP app delivering through the REAL notification app
(in-process, ASGI transport), which reads contacts from the account contract."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from notification.main import MIGRATIONS as NOTIFICATION_MIGRATIONS
from notification.main import NotificationSettings
from notification.main import create_app as create_notification_app
from otp.main import OtpSettings, create_app
from paykit.testing import DatabaseFactory, running_app

PHONE = "+1234567890"


def account_contract(request: httpx.Request) -> httpx.Response:
    """The account service's GET /customers/{id} (docs/contracts.md)."""
    if request.url.path == "/customers/cust_001":
        body = {
            "customer_id": "cust_001",
            "full_name": "John Smith",
            "email": "john@example.com",
            "phone": PHONE,
            "country": "US",
        }
        return httpx.Response(200, json=body)
    return httpx.Response(404, json={"code": "CUSTOMER_NOT_FOUND", "status": 404})


@dataclass
class Fleet:
    otp: httpx.AsyncClient
    notification: httpx.AsyncClient
    notification_app: FastAPI

    def to_notification(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.notification_app)

    async def last_code(self) -> str:
        """The newest code texted to the customer, read from the dev inbox."""
        response = await self.notification.get("/dev/inbox", params={"recipient": PHONE, "limit": 1})
        [message] = response.json()["messages"]
        match = re.search(r"\b(\d{6})\b", message["body"])
        assert match, message["body"]
        return match.group(1)

    async def inbox_size(self) -> int:
        response = await self.notification.get("/dev/inbox", params={"recipient": PHONE})
        return len(response.json()["messages"])


def payment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": "cust_001",
        "transaction_id": "TXN_1",
        "amount_minor": 750_000,
        "currency": "USD",
        "payee": "ACC002",
    }
    body.update(overrides)
    return body


@pytest.fixture
def notification_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("notification", NOTIFICATION_MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
def otp_settings(redis_url: str) -> OtpSettings:
    return OtpSettings(app_env="test", redis_url=redis_url)


@pytest.fixture
async def fleet(notification_url: str, otp_settings: OtpSettings) -> AsyncIterator[Fleet]:
    notification_app = create_notification_app(
        NotificationSettings(app_env="test", postgres_url=notification_url, consume_events=False),
        account_transport=httpx.MockTransport(account_contract),
    )
    async with running_app(notification_app) as notification:
        otp_app = create_app(otp_settings, notification_transport=httpx.ASGITransport(app=notification_app))
        async with running_app(otp_app) as otp:
            yield Fleet(otp, notification, notification_app)
