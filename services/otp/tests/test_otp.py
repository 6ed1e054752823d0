"""OTP rules through the HTTP API, with delivery through the real notification app."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest
from otp.main import OtpSettings, create_app
from paykit.testing import running_app
from redis import Redis

from .conftest import Fleet, payment


async def generate(fleet: Fleet, **overrides: Any) -> httpx.Response:
    return await fleet.otp.post("/generate-otp", json=payment(**overrides))


async def verify(fleet: Fleet, otp: str, **overrides: Any) -> dict[str, Any]:
    response = await fleet.otp.post("/verify-otp", json={**payment(**overrides), "otp": otp})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_code_is_texted_and_verifies_once(fleet: Fleet) -> None:
    response = await generate(fleet)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["success"] is True and issued["challenge_id"]
    assert issued["expires_in_s"] == 300
    code = await fleet.last_code()
    assert await verify(fleet, code) == {"valid": True}
    # Single use: the same code never works twice.
    assert await verify(fleet, code) == {"valid": False, "reason": "OTP_NOT_FOUND", "attempts_remaining": 0}


async def test_the_code_is_stored_only_as_a_keyed_hash(fleet: Fleet, redis_url: str) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    client = Redis.from_url(redis_url)
    try:
        stored = b"".join(
            k + b"".join(f + v for f, v in client.hgetall(k).items()) if client.type(k) == b"hash" else k
            for k in client.keys("*")
        )
    finally:
        client.close()
    assert stored and code.encode() not in stored


async def test_five_wrong_attempts_burn_the_challenge(fleet: Fleet) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    remaining = [(await verify(fleet, wrong(code)))["attempts_remaining"] for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    assert await verify(fleet, code) == {"valid": False, "reason": "OTP_LOCKED", "attempts_remaining": 0}


async def test_the_seeds_body_binds_customer_and_transaction_only(fleet: Fleet) -> None:
    seed = {"customer_id": payment()["customer_id"], "transaction_id": "txn_seed"}
    assert (await fleet.otp.post("/generate-otp", json=seed)).status_code == 201
    code = await fleet.last_code()
    with_amount = await fleet.otp.post(
        "/verify-otp", json={**seed, "otp": code, "amount_minor": 100, "payee": "X"}
    )
    assert with_amount.json()["valid"] is False, "a code issued without terms does not vouch for any terms"
    assert (await fleet.otp.post("/verify-otp", json={**seed, "otp": code})).json()["valid"] is True


async def test_the_right_code_on_the_last_attempt_still_works(fleet: Fleet) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    for _ in range(4):
        assert (await verify(fleet, wrong(code)))["reason"] == "INVALID_OTP"
    assert await verify(fleet, code) == {"valid": True}


async def test_concurrent_wrong_guesses_never_exceed_five(fleet: Fleet) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    guesses = [f"{n:06d}" for n in range(30) if f"{n:06d}" != code][:20]
    results = await asyncio.gather(*(verify(fleet, g) for g in guesses))
    reasons = sorted(r["reason"] for r in results)
    assert reasons.count("INVALID_OTP") == 5
    assert reasons.count("OTP_LOCKED") == 15
    assert (await verify(fleet, code))["reason"] == "OTP_LOCKED"


async def test_resend_cooldown_is_429_with_retry_after(fleet: Fleet) -> None:
    assert (await generate(fleet)).status_code == 201
    again = await generate(fleet)
    assert again.status_code == 429
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "OTP_RESEND_COOLDOWN"
    assert 1 <= int(again.headers["Retry-After"]) <= 30
    assert await fleet.inbox_size() == 1
    # Another payment of the same customer has its own cooldown.
    assert (await generate(fleet, transaction_id="TXN_2")).status_code == 201


async def test_a_new_challenge_after_the_cooldown_replaces_the_old(
    fleet: Fleet, otp_settings: OtpSettings
) -> None:
    fast = otp_settings.model_copy(update={"otp_resend_cooldown_s": 0.2})
    async with running_app(create_app(fast, notification_transport=fleet.to_notification())) as otp:
        fleet = Fleet(otp, fleet.notification, fleet.notification_app)
        await generate(fleet)
        old = await fleet.last_code()
        await asyncio.sleep(0.3)
        assert (await generate(fleet)).status_code == 201
        new = await fleet.last_code()
        if new != old:
            assert (await verify(fleet, old))["reason"] == "INVALID_OTP"
        assert await verify(fleet, new) == {"valid": True}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"transaction_id": "TXN_OTHER"}, "OTP_NOT_FOUND"),
        ({"customer_id": "cust_002"}, "OTP_NOT_FOUND"),
        ({"amount_minor": 750_001}, "INVALID_OTP"),
        ({"currency": "EUR"}, "INVALID_OTP"),
        ({"payee": "ACC003"}, "INVALID_OTP"),
    ],
)
async def test_a_code_is_bound_to_its_payment_amount_and_payee(
    fleet: Fleet, change: dict[str, Any], reason: str
) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    assert (await verify(fleet, code, **change))["reason"] == reason
    assert await verify(fleet, code) == {"valid": True}


async def test_a_code_of_one_payment_fails_on_another_payment_with_its_own_code(fleet: Fleet) -> None:
    await generate(fleet, transaction_id="TXN_A")
    code_a = await fleet.last_code()
    await generate(fleet, transaction_id="TXN_B")
    code_b = await fleet.last_code()
    if code_a != code_b:
        assert (await verify(fleet, code_a, transaction_id="TXN_B"))["reason"] == "INVALID_OTP"
    assert await verify(fleet, code_b, transaction_id="TXN_B") == {"valid": True}


async def test_an_expired_code_is_refused(fleet: Fleet, otp_settings: OtpSettings) -> None:
    short = otp_settings.model_copy(update={"otp_ttl_s": 0.3})
    async with running_app(create_app(short, notification_transport=fleet.to_notification())) as otp:
        fleet = Fleet(otp, fleet.notification, fleet.notification_app)
        issued = (await generate(fleet)).json()
        assert issued["expires_in_s"] == math.ceil(0.3)
        code = await fleet.last_code()
        await asyncio.sleep(0.4)
        assert await verify(fleet, code) == {"valid": False, "reason": "OTP_EXPIRED", "attempts_remaining": 5}


async def test_bad_input_is_422_and_consumes_no_attempt(fleet: Fleet) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    for body in (
        {**payment(), "otp": "12ab56"},
        {**payment(amount_minor=-1), "otp": code},
        {**payment(amount_minor="10.00"), "otp": code},
        {**payment(currency="XXX"), "otp": code},
        {**payment(transaction_id="a:b"), "otp": code},
        payment(),
    ):
        response = await fleet.otp.post("/verify-otp", json=body)
        assert response.status_code == 422, body
    assert (await fleet.otp.post("/generate-otp", json=payment(payee=""))).status_code == 422
    remaining = (await verify(fleet, wrong(code)))["attempts_remaining"]
    assert remaining == 4


async def test_undeliverable_code_is_503_and_may_be_retried_at_once(otp_settings: OtpSettings) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with running_app(create_app(otp_settings, notification_transport=httpx.MockTransport(down))) as otp:
        for _ in range(2):
            response = await otp.post("/generate-otp", json=payment())
            assert response.status_code == 503
            assert response.json()["code"] == "OTP_DELIVERY_FAILED"
        verdict = await otp.post("/verify-otp", json={**payment(), "otp": "000000"})
        assert verdict.json()["reason"] == "OTP_NOT_FOUND"


async def test_unknown_customer_is_404(fleet: Fleet) -> None:
    response = await generate(fleet, customer_id="cust_404")
    assert response.status_code == 404
    assert response.json()["code"] == "CUSTOMER_NOT_FOUND"


async def test_the_code_is_never_logged_and_results_are_counted(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    await generate(fleet)
    code = await fleet.last_code()
    await verify(fleet, wrong(code))
    await verify(fleet, code)
    captured = capsys.readouterr()
    assert code not in captured.out + captured.err
    metrics = (await fleet.otp.get("/metrics")).text
    for line in ('otp_verifications_total{result="valid"}', 'otp_verifications_total{result="invalid"}'):
        assert line in metrics
    assert "otp_generated_total" in metrics


def test_production_refuses_a_placeholder_otp_secret() -> None:
    strong = "a-long-random-production-secret-value"
    with pytest.raises(ValueError, match="OTP_SECRET"):
        OtpSettings(app_env="production", jwt_secret=strong)
    assert OtpSettings(app_env="production", jwt_secret=strong, otp_secret=strong).is_production
