"""Step-up cannot be brute-forced: a payment gets at most `otp_challenges_per_payment_max`
challenges of `otp_attempts_max` guesses each, a customer at most
`otp_challenges_per_customer_hour_max` challenges an hour, and burning a challenge does not
skip the resend cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from otp.main import OtpSettings, create_app
from paykit.testing import running_app

from .conftest import PHONE, Fleet
from .test_otp import generate, verify, wrong

COOLDOWN_S = 0.05


@pytest.fixture
async def fast(fleet: Fleet, otp_settings: OtpSettings) -> AsyncIterator[Fleet]:
    """The OTP app with a short resend cooldown, so a test can cycle through challenges."""
    settings = otp_settings.model_copy(
        update={
            "otp_resend_cooldown_s": COOLDOWN_S,
            "otp_challenges_per_payment_max": 3,
            "otp_challenges_per_customer_hour_max": 4,
        }
    )
    async with running_app(create_app(settings, notification_transport=fleet.to_notification())) as otp:
        yield Fleet(otp, fleet.notification, fleet.notification_app)


async def test_the_guesses_against_one_payment_are_bounded(fast: Fleet) -> None:
    guesses = 0
    for _ in range(10):  # an attacker who keeps asking for a fresh code
        issued = await generate(fast)
        if issued.status_code != 201:
            break
        code = await fast.last_code()
        while (await verify(fast, wrong(code)))["reason"] == "INVALID_OTP":
            guesses += 1
        await asyncio.sleep(COOLDOWN_S * 2)
    assert issued.status_code == 429, issued.text
    assert issued.json()["code"] == "OTP_CHALLENGES_EXHAUSTED" and issued.json()["limit"] == "payment"
    assert guesses == 3 * 5, "three challenges of five guesses, then no more codes for this payment"


async def test_a_customer_gets_a_bounded_number_of_challenges_an_hour(fast: Fleet) -> None:
    statuses = [(await generate(fast, transaction_id=f"TXN_H{i}")).status_code for i in range(5)]
    assert statuses == [201, 201, 201, 201, 429]
    refused = await generate(fast, transaction_id="TXN_H9")
    assert refused.json()["code"] == "OTP_CHALLENGES_EXHAUSTED" and refused.json()["limit"] == "customer"


async def test_resends_refused_by_the_cooldown_do_not_count(fleet: Fleet, otp_settings: OtpSettings) -> None:
    cooldown_s = 1.5
    settings = otp_settings.model_copy(
        update={"otp_resend_cooldown_s": cooldown_s, "otp_challenges_per_payment_max": 2}
    )
    async with running_app(create_app(settings, notification_transport=fleet.to_notification())) as otp:
        slow = Fleet(otp, fleet.notification, fleet.notification_app)
        assert (await generate(slow)).status_code == 201
        cooling = [(await generate(slow)).json().get("code") for _ in range(3)]
        assert cooling == ["OTP_RESEND_COOLDOWN"] * 3
        await asyncio.sleep(cooldown_s + 0.2)
        assert (await generate(slow)).status_code == 201, "the second of two challenges"


async def test_burning_a_challenge_keeps_the_resend_cooldown(fleet: Fleet) -> None:
    assert (await generate(fleet)).status_code == 201
    burned = await fleet.last_code()
    for _ in range(5):
        await verify(fleet, wrong(burned))
    assert (await verify(fleet, burned))["reason"] == "OTP_LOCKED"
    again = await generate(fleet)
    assert again.status_code == 429 and again.json()["code"] == "OTP_RESEND_COOLDOWN", again.text


async def test_the_code_names_what_it_approves(fleet: Fleet) -> None:
    """PSD2 dynamic linking: the message says which amount to which payee the code approves."""
    assert (await generate(fleet)).status_code == 201
    response = await fleet.notification.get("/dev/inbox", params={"recipient": PHONE, "limit": 1})
    [message] = response.json()["messages"]
    code = await fleet.last_code()
    assert f"Code {code} approves 7,500.00 USD to ACC002" in message["body"], message["body"]
