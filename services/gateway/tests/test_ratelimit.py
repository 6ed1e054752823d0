"""The per-IP and per-user limits of the protected routes, as a client and the counters see them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from gateway.main import GatewaySettings, create_app
from paykit.testing import running_app
from redis.asyncio import Redis

from .conftest import AccountStandIn, ConfirmRecorder, login

PAYMENT = {
    "transaction_id": "txn_rl_1",
    "customer_id": "cust_001",
    "amount": "1.00",
    "from_account": "ACC001",
    "to_account": "ACC002",
}


@pytest.fixture
async def limited(
    settings: GatewaySettings, client: httpx.AsyncClient, confirm: ConfirmRecorder, account: AccountStandIn
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """A gateway with small limits (the users come from `client`'s setup): 3 a minute per
    user, 5 per IP."""
    small = settings.model_copy(update={"rate_limit_user": "3/minute", "rate_limit_ip": "5/minute"})
    app = create_app(small, transports={"confirm": httpx.MockTransport(confirm)})
    async with running_app(app) as gw:
        yield gw, app.state


async def _user_remaining(state: object) -> int:
    """What the `limits` library itself reads from the counters for cust_001."""
    rate = state.rate_limits  # type: ignore[attr-defined]
    stats = await rate.limiter.get_window_stats(rate.rules["user"], "user", "cust_001")
    return int(stats.remaining)


async def test_a_payment_reports_the_tightest_limit_and_the_user_limit_refuses(
    limited: tuple[httpx.AsyncClient, object], confirm: ConfirmRecorder
) -> None:
    gw, state = limited
    auth = {"Authorization": f"Bearer {(await login(gw))['access_token']}"}
    remaining = []
    for n in range(3):
        ok = await gw.post("/payment/confirm", json=PAYMENT, headers={**auth, "Idempotency-Key": f"k{n}"})
        assert ok.status_code == 200, ok.text
        assert ok.headers["RateLimit-Limit"] == "3" and int(ok.headers["RateLimit-Reset"]) >= 0
        remaining.append(ok.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = await gw.post("/payment/confirm", json=PAYMENT, headers={**auth, "Idempotency-Key": "k9"})
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Remaining"] == "0"
    assert len(confirm.requests) == 3, "a refused payment never reaches confirm"
    assert await _user_remaining(state) == 0


async def test_the_ip_limit_is_checked_before_the_token(
    limited: tuple[httpx.AsyncClient, object], confirm: ConfirmRecorder
) -> None:
    gw, state = limited
    token = (await login(gw))["access_token"]
    for _ in range(5):
        anonymous = await gw.get("/payments")
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "ACCESS_TOKEN_REQUIRED"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Bearer {token}"}):
        refused = await gw.get("/payments", headers=headers)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) >= 1
    assert confirm.requests == []
    assert await _user_remaining(state) == 3, "a request the IP limit refused costs the user nothing"


async def test_a_revoked_token_does_not_spend_its_users_quota(
    limited: tuple[httpx.AsyncClient, object],
) -> None:
    gw, state = limited
    tokens = await login(gw)
    old = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await gw.post("/auth/logout", headers=old)).status_code == 204  # counts once
    for _ in range(2):
        after = await gw.get("/payments", headers=old)
        assert after.status_code == 401 and after.json()["code"] == "TOKEN_REVOKED"
    assert await _user_remaining(state) == 2
    fresh = {"Authorization": f"Bearer {(await login(gw))['access_token']}"}
    listed = await gw.get("/payments", headers=fresh)
    assert listed.status_code == 200 and listed.headers["RateLimit-Remaining"] == "1"


async def test_the_limits_survive_a_redis_that_forgot_its_scripts(
    limited: tuple[httpx.AsyncClient, object], settings: GatewaySettings
) -> None:
    """A restarted Redis has no scripts loaded: each request is still counted exactly once."""
    gw, state = limited
    auth = {"Authorization": f"Bearer {(await login(gw))['access_token']}"}
    assert (await gw.get("/payments", headers=auth)).headers["RateLimit-Remaining"] == "2"
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.script_flush()
    finally:
        await redis.aclose()
    again = await gw.get("/payments", headers=auth)
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "1"
    assert await _user_remaining(state) == 1
