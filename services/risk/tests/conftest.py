"""Fixtures of the risk service's tests.

Account, OFAC and KYC are stood in for by `httpx.MockTransport` handlers that answer exactly
as docs/contracts.md says (their real apps had no routes yet when these tests were written).
A test changes what they answer (`fleet.kyc[...]`, `fleet.faults[...]`) and reads
`fleet.calls` to see what the risk service asked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from paykit.testing import DatabaseFactory, running_app
from risk.main import MIGRATIONS, RiskSettings, create_app

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]
PARTY_PARAMS = (("payer", "from_account"), ("payee", "to_account"))
TIER_3_LIMITS = {"currency": "USD", "per_payment_minor": 5_000_000, "daily_minor": 10_000_000}


def _problem(status: int, code: str) -> httpx.Response:
    body = {"status": status, "code": code, "detail": code}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@dataclass
class FakeFleet:
    customers: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "cust_001": {"full_name": "John Smith", "country": "US"},
            "cust_002": {"full_name": "Jane Doe", "country": "US"},
            "cust_003": {"full_name": "Manuel Antonio Noriega", "country": "PA"},
        }
    )
    # account number -> its owner (GET /account/{n} on the account service)
    accounts: dict[str, str] = field(
        default_factory=lambda: {"ACC001": "cust_001", "ACC002": "cust_002", "ACC003": "cust_003"}
    )
    sanctioned: set[str] = field(default_factory=lambda: {"Manuel Antonio Noriega"})
    review: set[str] = field(default_factory=set)
    list_version: str = "sdn-test-1"
    kyc: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "cust_001": {"verified": True, "status": "VERIFIED", "tier": 3, "limits": dict(TIER_3_LIMITS)},
            "cust_002": {"verified": False, "status": "UNVERIFIED", "tier": 0, "limits": None},
            "cust_003": {"verified": True, "status": "VERIFIED", "tier": 2, "limits": dict(TIER_3_LIMITS)},
        }
    )
    # service -> "down" (503), "timeout" (no answer in time), "garbage" (200 off contract)
    faults: dict[str, str] = field(default_factory=dict)
    # service -> coroutine awaited before answering (to observe concurrency)
    before_answer: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    calls: list[tuple[str, str, str, Any]] = field(default_factory=list)

    def called(self, service: str) -> list[tuple[str, str, Any]]:
        return [(m, p, b) for s, m, p, b in self.calls if s == service]

    def screened(self) -> list[dict[str, Any]]:
        """Every check OFAC was asked to make, one by one or in a batch."""
        checks: list[dict[str, Any]] = []
        for _, path, body in self.called("ofac"):
            checks.extend(body["checks"] if path == "/check-sanctions/batch" else [body])
        return checks

    def kyc_asked(self) -> list[str]:
        """Every customer KYC was asked about, one by one or in a batch."""
        asked: list[str] = []
        for _, path, body in self.called("kyc"):
            asked.extend(body["customer_ids"] if path == "/check-statuses" else [body["customer_id"]])
        return asked

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        routes = {"account": self._account, "ofac": self._ofac, "kyc": self._kyc}
        return {name: httpx.MockTransport(self._wrap(name, answer)) for name, answer in routes.items()}

    def _wrap(self, service: str, answer: Callable[[httpx.Request, Any], httpx.Response]) -> Handler:
        async def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            self.calls.append((service, request.method, request.url.path, body))
            if service in self.before_answer:
                await self.before_answer[service]()
            fault = self.faults.get(service)
            if fault == "down":
                return _problem(503, "SERVICE_UNAVAILABLE")
            if fault == "timeout":
                raise httpx.ReadTimeout("no answer in time", request=request)
            if fault == "garbage":
                return httpx.Response(200, json={"unexpected": True})
            return answer(request, body)

        return handle

    def _account(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.url.path == "/payment-parties":
            params = request.url.params
            return httpx.Response(
                200, json={role: self._party(params.get(key)) for role, key in PARTY_PARAMS}
            )
        if request.url.path.startswith("/account/"):
            number = request.url.path.removeprefix("/account/")
            if request.method != "GET" or number not in self.accounts:
                return _problem(404, "ACCOUNT_NOT_FOUND")
            owner = self.accounts[number]
            return httpx.Response(
                200,
                json={"account_number": number, "customer_id": owner, "currency": "USD", "status": "ACTIVE"},
            )
        customer_id = request.url.path.removeprefix("/customers/")
        if request.method != "GET" or customer_id not in self.customers:
            return _problem(404, "CUSTOMER_NOT_FOUND")
        c = self.customers[customer_id]
        email = f"{customer_id}@example.com"
        return httpx.Response(200, json={"customer_id": customer_id, "email": email, "phone": None, **c})

    def _party(self, number: str | None) -> dict[str, Any] | None:
        if number is None or number not in self.accounts:
            return None
        owner = self.accounts[number]
        known = self.customers.get(owner)
        customer = {"customer_id": owner, **known} if known is not None else None
        party = {"account_number": number, "customer_id": owner, "currency": "USD", "status": "ACTIVE"}
        return {**party, "customer": customer}

    def _ofac(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.url.path == "/check-sanctions/batch":
            checks = body.get("checks") or []
            if not checks or not all(check.get("name") for check in checks):
                return _problem(422, "VALIDATION_ERROR")
            return httpx.Response(200, json={"results": [self._screening(check) for check in checks]})
        if request.url.path != "/check-sanctions" or not body.get("name"):
            return _problem(422, "VALIDATION_ERROR")
        return httpx.Response(200, json=self._screening(body))

    def _screening(self, body: dict[str, Any]) -> dict[str, Any]:
        hit = body["name"] in self.sanctioned
        review = body["name"] in self.review
        matches = []
        if hit or review:
            matches.append(
                {
                    "entity_id": "1572",
                    "name": "NORIEGA, Manuel Antonio",
                    "matched_name": body["name"],
                    "score": 0.99 if hit else 0.85,
                    "type": "individual",
                    "programs": ["SDNTK"],
                    "list": "SDN",
                }
            )
        return {
            "is_sanctioned": hit,
            "review": review,
            "list_version": self.list_version,
            "matches": matches,
        }

    def _kyc(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.url.path == "/check-statuses":
            # As the real KYC: a customer it has never seen is UNVERIFIED on tier 0.
            unseen = {"verified": False, "status": "UNVERIFIED", "tier": 0, "limits": None}
            statuses = [{"customer_id": c, **self.kyc.get(c, unseen)} for c in body["customer_ids"]]
            return httpx.Response(200, json={"statuses": statuses})
        customer_id = body.get("customer_id")
        if request.url.path != "/check-status" or customer_id not in self.kyc:
            return _problem(404, "CUSTOMER_NOT_FOUND")
        return httpx.Response(200, json={"customer_id": customer_id, **self.kyc[customer_id]})


@pytest.fixture
def fleet() -> FakeFleet:
    return FakeFleet()


@pytest.fixture
def risk_db(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("risk", MIGRATIONS)
    yield url
    database_factory.drop(url)


@pytest.fixture
def risk_settings(risk_db: str) -> RiskSettings:
    return RiskSettings(app_env="test", postgres_url=risk_db, dependency_breaker_threshold=1000)


@pytest.fixture
async def risk(risk_settings: RiskSettings, fleet: FakeFleet) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(risk_settings, transports=fleet.transports())) as client:
        yield client


Assess = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def assess(risk: httpx.AsyncClient) -> Assess:
    """POST /assess-risk with the seed's defaults; asserts a 200 and returns the answer."""

    async def call(**body: Any) -> dict[str, Any]:
        body.setdefault("customer_id", "cust_001")
        body.setdefault("currency", "USD")
        response = await risk.post("/assess-risk", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    return call


def codes(answer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in answer["reasons"]]


@pytest.fixture
def reason_codes() -> Callable[[dict[str, Any]], list[str]]:
    return codes
