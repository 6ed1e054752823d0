"""End to end in-process: otp -> the real notification app -> the real account app for the
customer's phone number -> the dev inbox, where the customer reads the code."""

from __future__ import annotations

import re

import asyncpg
import httpx
from account.main import MIGRATIONS as ACCOUNT_MIGRATIONS
from account.main import AccountSettings
from account.main import create_app as create_account_app
from notification.main import NotificationSettings
from notification.main import create_app as create_notification_app
from otp.main import OtpSettings, create_app
from paykit.testing import DatabaseFactory, running_app

from .conftest import payment


async def test_the_code_reaches_the_phone_the_account_service_knows(
    database_factory: DatabaseFactory, notification_url: str, otp_settings: OtpSettings
) -> None:
    account_url = database_factory.create("account", ACCOUNT_MIGRATIONS)
    try:
        conn = await asyncpg.connect(account_url, server_settings={"search_path": "account"})
        try:
            await conn.execute(
                "INSERT INTO customers (customer_id, full_name, email, phone, country)"
                " VALUES ('cust_777', 'Ada Lovelace', 'ada@example.com', '+447700900777', 'GB')"
            )
        finally:
            await conn.close()
        account_app = create_account_app(
            AccountSettings(
                app_env="test", postgres_url=account_url, hold_sweep_interval_s=0, reconciliation_interval_s=0
            )
        )
        notification_app = create_notification_app(
            NotificationSettings(app_env="test", postgres_url=notification_url, consume_events=False),
            account_transport=httpx.ASGITransport(app=account_app),
        )
        otp_app = create_app(otp_settings, notification_transport=httpx.ASGITransport(app=notification_app))
        async with (
            running_app(account_app),
            running_app(notification_app) as notification,
            running_app(otp_app) as otp,
        ):
            issued = await otp.post("/generate-otp", json=payment(customer_id="cust_777"))
            assert issued.status_code == 201, issued.text
            inbox = await notification.get("/dev/inbox", params={"recipient": "+447700900777"})
            [message] = inbox.json()["messages"]
            match = re.search(r"\b(\d{6})\b", message["body"])
            assert match is not None
            verdict = await otp.post("/verify-otp", json={**payment(customer_id="cust_777"), "otp": match[1]})
            assert verdict.json() == {"valid": True}
    finally:
        database_factory.drop(account_url)
