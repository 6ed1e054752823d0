"""Overload and broken guards answer a clear 503 with Retry-After; money never moves unchecked."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from gateway.domain import issue_access_token
from gateway.main import GatewaySettings, create_app
from paykit.testing import running_app

from .conftest import ConfirmRecorder

PAYMENT = {
    "transaction_id": "txn_load_1",
    "customer_id": "cust_001",
    "amount": "1.00",
    "from_account": "ACC001",
    "to_account": "ACC002",
}


@pytest.fixture
def dead_redis_url() -> Iterator[str]:
    """A port nobody listens on: Redis is down for the whole test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"


def _token(app_state: object) -> str:
    auth = app_state.auth  # type: ignore[attr-defined]
    token, _ = issue_access_token(
        auth.signing_key,
        username="demo",
        customer_id="cust_001",
        roles=["customer"],
        issuer=auth.config.issuer,
        audience=auth.config.audience,
        ttl_s=60,
    )
    return token


async def test_rate_limiter_down_is_a_503_and_nothing_reaches_confirm(
    settings: GatewaySettings, dead_redis_url: str, confirm: ConfirmRecorder
) -> None:
    broken = settings.model_copy(update={"redis_url": dead_redis_url, "redis_timeout_s": 0.2})
    app = create_app(broken, transports={"confirm": httpx.MockTransport(confirm)})
    async with running_app(app) as client:
        auth = {"Authorization": f"Bearer {_token(app.state)}", "Idempotency-Key": "k-load-1"}
        response = await client.post("/payment/confirm", json=PAYMENT, headers=auth)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "RATE_LIMITER_UNAVAILABLE"
        assert int(response.headers["Retry-After"]) >= 1
        login = await client.post("/auth/login", json={"username": "demo", "password": "x"})
        assert login.status_code == 503 and login.json()["code"] == "RATE_LIMITER_UNAVAILABLE"
    assert confirm.requests == [], "no payment passes an unchecked rate limit"


async def test_a_spent_deadline_is_refused_without_calling_confirm(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    login = await client.post("/auth/login", json={"username": "demo", "password": "password123"})
    auth = {"Authorization": f"Bearer {login.json()['access_token']}", "Idempotency-Key": "k-load-2"}
    late = await client.post("/payment/confirm", json=PAYMENT, headers={**auth, "X-Request-Timeout-Ms": "0"})
    assert late.status_code == 503 and late.json()["code"] == "DEADLINE_EXCEEDED"
    assert int(late.headers["Retry-After"]) >= 1
    assert confirm.requests == []
    on_time = await client.post(
        "/payment/confirm", json=PAYMENT, headers={**auth, "X-Request-Timeout-Ms": "5000"}
    )
    assert on_time.status_code == 200
    budget = int(confirm.requests[-1].headers["x-request-timeout-ms"])
    assert 0 < budget <= 5000, "confirm learns what is left of the caller's budget"


async def test_a_logout_redis_refuses_to_record_is_a_503_not_a_500(
    settings: GatewaySettings, redis_url: str, confirm: ConfirmRecorder
) -> None:
    """Redis answers the rate-limit and revocation checks but refuses the revocation write
    (here an ACL without SET; in life a Redis failing between the two): the customer is told
    to retry, not that the server broke, and learns the token was not revoked."""
    import redis as sync_redis

    admin = sync_redis.Redis.from_url(redis_url)
    admin.acl_setuser("no_writes", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-set"])
    try:
        host_and_db = redis_url.removeprefix("redis://")
        limited = settings.model_copy(update={"redis_url": f"redis://no_writes:pw@{host_and_db}"})
        app = create_app(limited, transports={"confirm": httpx.MockTransport(confirm)})
        async with running_app(app) as client:
            auth = {"Authorization": f"Bearer {_token(app.state)}"}
            out = await client.post("/auth/logout", headers=auth)
            assert out.status_code == 503, out.text
            assert out.headers["content-type"] == "application/problem+json"
            assert out.json()["code"] == "LOGOUT_UNAVAILABLE"
            assert int(out.headers["Retry-After"]) >= 1
            still = await client.get("/payments", headers=auth)
            assert still.status_code != 401  # not revoked: the 503 told the truth
    finally:
        admin.acl_deluser("no_writes")
        admin.close()
