"""The confirm service with the REAL account and partner-bank apps behind its clients (each
on its own migrated database with the dev seed) and contract-following stand-ins for risk
and OTP, whose decisions each test sets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from account.main import MIGRATIONS as ACCOUNT_MIGRATIONS
from account.main import AccountSettings
from account.main import create_app as create_account_app
from confirm.main import MIGRATIONS, ConfirmSettings, create_app
from partner_bank.main import MIGRATIONS as BANK_MIGRATIONS
from partner_bank.main import PartnerBankSettings
from partner_bank.main import create_app as create_bank_app
from paykit.testing import DatabaseFactory, running_app, service_headers

SEED_DIR = Path(__file__).resolve().parents[3] / "database" / "seed"


@dataclass
class RiskAndOtp:
    """Risk answers `decision`; OTP accepts `code` for the payment it was generated for."""

    decision: str = "ALLOW"
    code: str = "123456"
    challenged: list[str] = field(default_factory=list)
    # The OTP service's per-payment challenge cap (None: no cap).
    challenges_max: int | None = None
    # Every body risk was asked to assess, in order.
    assessed: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        if request.url.path == "/assess-risk":
            self.assessed.append(body)
            return httpx.Response(200, json={"decision": self.decision, "risk_score": 0, "reasons": []})
        if request.url.path == "/generate-otp":
            if self.challenges_max is not None and (
                self.challenged.count(body["transaction_id"]) >= self.challenges_max
            ):
                refused = {"status": 429, "code": "OTP_CHALLENGES_EXHAUSTED", "limit": "payment"}
                return httpx.Response(429, json=refused)
            self.challenged.append(body["transaction_id"])
            return httpx.Response(201, json={"success": True, "expires_at": "soon"})
        if request.url.path == "/verify-otp":
            ok = body["otp"] == self.code and body["transaction_id"] in self.challenged
            return httpx.Response(
                200, json={"valid": ok} if ok else {"valid": False, "reason": "INVALID_OTP"}
            )
        return httpx.Response(404)


class DeadlineTransport(httpx.AsyncBaseTransport):
    """An in-process app with a network's deadline: ASGI calls never time out by themselves."""

    def __init__(self, inner: httpx.AsyncBaseTransport, timeout_s: float) -> None:
        self.inner = inner
        self.timeout_s = timeout_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), self.timeout_s)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None


class Faults(httpx.AsyncBaseTransport):
    """A network that can fail the way real ones do: calls refused before they reach the
    service (`down`), or calls that ran but whose answer is lost (`lose_answer_of`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self._lose: list[tuple[str, str]] = []
        self._canned: list[tuple[str, str, httpx.Response]] = []
        self.calls: list[str] = []

    def answer_next(self, method: str, path_part: str, response: httpx.Response) -> None:
        """The next call whose path contains `path_part` never reaches the service; its caller
        gets `response`."""
        self._canned.append((method, path_part, response))

    def lose_answer_of(self, method: str, path_suffix: str) -> None:
        """The next matching call runs to completion; its caller sees a read timeout."""
        self._lose.append((method, path_suffix))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        for method, suffix, canned in self._canned:
            if request.method == method and suffix in request.url.path:
                self._canned.remove((method, suffix, canned))
                return canned
        response = await self.inner.handle_async_request(request)
        for method, suffix in self._lose:
            if request.method == method and request.url.path.endswith(suffix):
                self._lose.remove((method, suffix))
                await response.aread()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@dataclass
class World:
    confirm: httpx.AsyncClient
    account: httpx.AsyncClient
    bank: httpx.AsyncClient
    stand_ins: RiskAndOtp
    app: Any
    account_app: Any = None
    account_faults: Faults | None = None
    bank_faults: Faults | None = None

    @property
    def account_db(self) -> Any:
        """The account service's own pool: tests use it to let time pass for a hold."""
        return self.account_app.state.resources.require_pool()

    @property
    def confirm_db(self) -> Any:
        return self.app.state.resources.require_pool()

    async def balance(self, account: str) -> int:
        return int((await self.account.get(f"/account/{account}")).json()["balance_minor"])

    async def bank_balance(self, account: str) -> int:
        return int((await self.bank.get(f"/accounts/{account}/balance")).json()["balance_minor"])


@pytest.fixture
def databases(database_factory: DatabaseFactory) -> Iterator[dict[str, str]]:
    urls = {
        "confirm": database_factory.create("confirm", MIGRATIONS),
        "account": database_factory.create("account", ACCOUNT_MIGRATIONS),
        "partner_bank": database_factory.create("partner_bank", BANK_MIGRATIONS),
    }
    yield urls
    for url in urls.values():
        database_factory.drop(url)


@pytest.fixture
async def world(databases: dict[str, str], redis_url: str) -> AsyncIterator[World]:
    bank_app = create_bank_app(
        PartnerBankSettings(
            app_env="test",
            postgres_url=databases["partner_bank"],
            dev_seed_file=str(SEED_DIR / "partner_bank.sql"),
        )
    )
    account_app = create_account_app(
        AccountSettings(
            app_env="test",
            postgres_url=databases["account"],
            dev_seed_file=str(SEED_DIR / "account.sql"),
            hold_sweep_interval_s=0,
            reconciliation_interval_s=0,
            reconciliation_compare_payments=False,
        ),
        bank_transport=httpx.ASGITransport(app=bank_app),
    )
    stand_ins = RiskAndOtp()
    settings = ConfirmSettings(
        app_env="test",
        postgres_url=databases["confirm"],
        redis_url=redis_url,
        # A deadline no healthy in-process call comes near, even on a loaded machine: a bank
        # call that ran past 0.5 s under load turned into an unplanned timeout (and a test
        # that expected one resolver pass to finish failed). Tests that need a lost bank answer
        # say so (`bank_faults.lose_answer_of`), so none depends on how fast the machine is.
        bank_timeout_s=10.0,
        resolver_interval_s=3600,  # tests drive the resolver by hand
    )
    account_faults = Faults(httpx.ASGITransport(app=account_app))
    bank_faults = Faults(DeadlineTransport(httpx.ASGITransport(app=bank_app), settings.bank_timeout_s))
    async with (
        running_app(bank_app) as bank,
        running_app(account_app) as account,
    ):
        app = create_app(
            settings,
            transports={
                "account": account_faults,
                "partner_bank": bank_faults,
                "risk": httpx.MockTransport(stand_ins),
                "otp": httpx.MockTransport(stand_ins),
            },
        )
        async with running_app(app) as confirm:
            yield World(confirm, account, bank, stand_ins, app, account_app, account_faults, bank_faults)


def payment(**overrides: Any) -> dict[str, Any]:
    return {
        "transaction_id": "txn_test_1",
        "customer_id": "cust_001",
        "amount": "100.00",
        "from_account": "ACC001",
        "to_account": "ACC002",
        **overrides,
    }


def as_customer(user: str = "cust_001") -> dict[str, str]:
    return service_headers("gateway", "confirm", subject=user)


def as_operator(key: str | None = None) -> dict[str, str]:
    """An operator's call through the gateway (the role travels in the gateway's token)."""
    signed = service_headers("gateway", "confirm", subject="ops_001", roles=["operator"])
    return signed | ({"Idempotency-Key": key} if key else {})


def headers(key: str, user: str = "cust_001") -> dict[str, str]:
    """A customer's call as the gateway makes it: the customer is named in its signed token."""
    return {"Idempotency-Key": key, **service_headers("gateway", "confirm", subject=user)}
