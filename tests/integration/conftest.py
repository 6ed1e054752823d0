"""The fleet as real processes: every service on its seed port, two gateways behind a real
nginx, a real Kafka broker (KRaft, Apache Kafka's jars) carrying the events.

URLs from the environment win: FLEET_URL points the suite at a running fleet instead (e.g.
`docker compose up`), KAFKA_BROKERS at a running broker."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.devstack.fleet import Fleet
from tools.devstack.nginx import find_nginx

# The confirm service waits 2 s for the bank; the bank's injected slow answers take longer,
# which makes "timed out after executing" deterministic.
BANK_TIMEOUT_S = "2"
# Short, so a test can wait out the resend cooldown a burned code keeps.
OTP_RESEND_COOLDOWN_S = 1
SERVICE_URLS = {
    "confirm": "http://127.0.0.1:3003",
    "risk": "http://127.0.0.1:3004",
    "notification": "http://127.0.0.1:3005",
    "otp": "http://127.0.0.1:3006",
    "account": "http://127.0.0.1:3007",
    "audit": "http://127.0.0.1:3008",
    "ofac": "http://127.0.0.1:3009",
    "kyc": "http://127.0.0.1:3010",
    "partner_bank": "http://127.0.0.1:3011",
}


@pytest.fixture(scope="session")
def fleet_process() -> dict[str, Fleet]:
    """The Fleet the session started (empty with FLEET_URL): the fault suite kills its processes."""
    return {}


@pytest.fixture(scope="session")
def fleet_started(
    kafka_bootstrap: str, fleet_datastores: dict[str, str], fleet_process: dict[str, Fleet]
) -> Iterator[Fleet | None]:
    """The fleet this suite started (None when FLEET_URL names a running one)."""
    if os.environ.get("FLEET_URL"):
        yield None
        return
    if find_nginx() is None:
        pytest.fail("the integration suite needs nginx (apt-get install nginx)")
    data_dir = Path(tempfile.mkdtemp(prefix="fleet-"))
    fleet = Fleet(
        data_dir,
        keep_data=False,
        use_nginx=True,
        postgres_url=fleet_datastores.get("POSTGRES_URL", ""),
        redis_url=fleet_datastores.get("REDIS_URL", ""),
        extra_env={
            "KAFKA_BROKERS": kafka_bootstrap,
            "BANK_TIMEOUT_S": BANK_TIMEOUT_S,
            "OTP_RESEND_COOLDOWN_S": str(OTP_RESEND_COOLDOWN_S),
            "RESOLVER_INTERVAL_S": "0.5",
            "RATE_LIMIT_USER": "1000/minute",
            "RATE_LIMIT_LOGIN": "1000/minute",
            "RATE_LIMIT_LOGIN_USER": "1000/minute",
            "RATE_LIMIT_IP": "5000/minute",
            "EVENTS_POLL_INTERVAL_MS": "100",
            # The fault suite checks reconciliation right after its payments settle.
            "RECONCILIATION_GRACE_S": "1",
            "RECONCILIATION_INTERVAL_S": "5",
            # A killed confirm's lease runs out in 5 s (live work renews it), so the resolver
            # finishes its payment without a 30 s wait.
            "PAYMENT_LEASE_S": "5",
        },
    )
    fleet_process["fleet"] = fleet
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fleet_url(fleet_started: Fleet | None) -> str:
    return fleet_started.gateway_url if fleet_started else os.environ["FLEET_URL"].rstrip("/")


@pytest.fixture(scope="session")
def service_token(fleet_started: Fleet | None) -> Callable[..., str]:
    """`service_token(caller, audience, subject=..., roles=[...])`: a token of the fleet's
    `caller` (for a running fleet, from `<CALLER>_SIGNING_KEY` in the environment)."""
    from paykit.identity import mint, private_key_from_text

    def token(caller: str, audience: str, **claims: Any) -> str:
        if fleet_started is not None:
            return fleet_started.service_token(caller, audience, **claims)
        key = private_key_from_text(os.environ[f"{caller.upper()}_SIGNING_KEY"])
        return mint(key, caller, audience, **claims)

    return token


class _SignedAs(httpx.Auth):
    def __init__(self, token: Callable[[str, str], str], caller: str, audience: str) -> None:
        self.token, self.caller, self.audience = token, caller, audience

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {self.token(self.caller, self.audience)}"
        yield request


@pytest.fixture
def gateway(fleet_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fleet_url, timeout=40) as client:
        yield client


@pytest.fixture
def services(fleet_url: str, service_token: Callable[[str, str], str]) -> Iterator[dict[str, httpx.Client]]:
    """Each service directly, as the tests' operator: signed as `ops` (what a person gets from
    `make service-token CALLER=ops`)."""
    clients = {
        name: httpx.Client(base_url=url, timeout=20, auth=_SignedAs(service_token, "ops", name))
        for name, url in SERVICE_URLS.items()
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def login(gateway: httpx.Client, username: str) -> dict[str, str]:
    response = gateway.post("/auth/login", json={"username": username, "password": "password123"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def new_txn() -> str:
    return f"txn_{uuid.uuid4().hex[:12]}"


def payment_body(customer_id: str, amount: object, from_account: str, to_account: str) -> dict[str, Any]:
    """The seed's confirm body for a new transaction."""
    return {
        "transaction_id": new_txn(),
        "customer_id": customer_id,
        "amount": amount,
        "from_account": from_account,
        "to_account": to_account,
    }


def balances(services: dict[str, httpx.Client], account: str) -> dict[str, Any]:
    ours = services["account"].get(f"/account/{account}").json()
    bank = services["partner_bank"].get(f"/accounts/{account}/balance").json()
    return {
        "ledger": ours["balance_minor"],
        "available": ours["available_minor"],
        "bank": bank["balance_minor"],
    }
