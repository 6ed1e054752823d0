"""Re-screening when a sanctions list changes, across the REAL ofac, account, KYC and risk apps
(in-process, through httpx.ASGITransport): a list update that adds a customer's name raises a
KYC review (event on kyc-events, in the reviewer queue) and blocks their next payment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from account import usecases as account_usecases
from account.main import MIGRATIONS as ACCOUNT_MIGRATIONS
from account.main import AccountSettings
from account.main import create_app as create_account_app
from kyc.main import MIGRATIONS as KYC_MIGRATIONS
from kyc.main import KycSettings
from kyc.main import create_app as create_kyc_app
from ofac.main import OfacSettings
from ofac.main import create_app as create_ofac_app
from paykit.testing import DatabaseFactory, running_app
from risk.main import RiskSettings, create_app

SUBSET_LIST = Path(__file__).resolve().parents[2] / "ofac" / "tests" / "data" / "watchman-subset"
LIST_URL = "https://lists.example.test/exports"
REVIEWER = {"Authorization": "Bearer test-reviewer-token-0123456789"}
NEWLY_LISTED = b'99001,"QUILLFEATHER, Zorbak",individual,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'


class ListServer:
    """OFAC's export endpoint with the small watchman list; `publish` adds a row to sdn.csv."""

    def __init__(self) -> None:
        self.extra = b""

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            path = SUBSET_LIST / request.url.path.rsplit("/", 1)[-1]
            if not path.is_file():
                return httpx.Response(404)
            data = path.read_bytes()
            if path.name == "sdn.csv":
                data = data.replace(b"\x1a", b"") + self.extra
            return httpx.Response(200, content=data)

        return httpx.MockTransport(handle)


@dataclass
class Fleet:
    ofac: Any
    kyc: httpx.AsyncClient
    risk: httpx.AsyncClient
    kyc_url: str
    lists: ListServer


@pytest.fixture
def risk_caches() -> str:
    """ "off": risk's answer caches disabled; "default": as the service ships (a test overrides
    this fixture by parametrizing it)."""
    return "off"


@pytest.fixture
async def fleet(
    database_factory: DatabaseFactory, risk_settings: RiskSettings, risk_caches: str
) -> AsyncIterator[Fleet]:
    account_db = database_factory.create("account", ACCOUNT_MIGRATIONS)
    kyc_db = database_factory.create("kyc", KYC_MIGRATIONS)
    account_app = create_account_app(
        AccountSettings(
            app_env="test", postgres_url=account_db, hold_sweep_interval_s=0, reconciliation_interval_s=0
        )
    )
    kyc_app = create_kyc_app(
        KycSettings(
            app_env="test",
            postgres_url=kyc_db,
            kyc_outbox_relay=False,
            kyc_reviewer_token="test-reviewer-token-0123456789",
        )
    )
    lists = ListServer()
    ofac_settings = OfacSettings(
        app_env="test",
        ofac_admin_token="test-admin-token-0123456789",
        ofac_list_source=LIST_URL,
        ofac_refresh_interval_s=0,
    )
    ofac_app = create_ofac_app(
        ofac_settings,
        list_transport=lists.transport(),
        account_transport=httpx.ASGITransport(app=account_app),
        kyc_transport=httpx.ASGITransport(app=kyc_app),
    )
    try:
        async with running_app(account_app), running_app(kyc_app) as kyc, running_app(ofac_app):
            pool = account_app.state.resources.require_pool()
            for customer_id, name, number in [
                ("cust_001", "John Smith", "ACC001"),
                ("cust_777", "Zorbak Quillfeather", "ACC777"),
            ]:
                customer = {"customer_id": customer_id, "full_name": name, "country": "US"}
                await account_usecases.open_account(pool, customer, number, "USD", 1_000_000)
            transports = {
                "account": httpx.ASGITransport(app=account_app),
                "ofac": httpx.ASGITransport(app=ofac_app),
                "kyc": httpx.ASGITransport(app=kyc_app),
            }
            # Most tests here are about what re-screening does, so risk's caches are off; one
            # runs with the shipped defaults (no cache may hide a new listing).
            if risk_caches == "off":
                risk_settings = risk_settings.model_copy(
                    update={"lookup_cache_ttl_s": 0, "kyc_cache_ttl_s": 0, "screening_cache_ttl_s": 0}
                )
            async with running_app(create_app(risk_settings, transports=transports)) as risk:
                yield Fleet(ofac_app, kyc, risk, kyc_db, lists)
    finally:
        database_factory.drop(account_db)
        database_factory.drop(kyc_db)


async def assess(fleet: Fleet, transaction_id: str, customer_id: str) -> dict[str, Any]:
    body = {"transaction_id": transaction_id, "customer_id": customer_id, "amount": "25.00"}
    response = await fleet.risk.post("/assess-risk", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def kyc_events(url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url, server_settings={"search_path": "kyc"})
    try:
        rows = await conn.fetch("SELECT topic, event_key, event FROM outbox ORDER BY id")
    finally:
        await conn.close()
    return [{"topic": r["topic"], "key": r["event_key"], **json.loads(r["event"])} for r in rows]


async def test_a_list_update_that_adds_a_customer_raises_a_review_and_blocks_their_payment(
    fleet: Fleet,
) -> None:
    before = await assess(fleet, "TXN_RESCREEN_1", "cust_777")
    assert before["decision"] in ("ALLOW", "CHALLENGE"), before

    fleet.lists.extra = NEWLY_LISTED  # OFAC publishes a version that lists the customer
    outcome = await fleet.ofac.state.lists.refresh()
    assert outcome == {"OFAC_SDN": None}

    queue = (await fleet.kyc.get("/review-queue", headers=REVIEWER)).json()["records"]
    assert [(r["customer_id"], r["status"], r["reasons"]) for r in queue] == [
        ("cust_777", "MANUAL_REVIEW", ["SANCTIONS_RESCREEN_HIT"])
    ]
    hits = (await fleet.kyc.get("/customers/cust_777/sanctions-hits", headers=REVIEWER)).json()["hits"]
    assert [(h["entity_id"], h["list_name"], h["band"]) for h in hits] == [("99001", "OFAC_SDN", "BLOCK")]
    events = [e for e in await kyc_events(fleet.kyc_url) if e["key"] == "cust_777"]
    assert [(e["topic"], e["type"]) for e in events] == [("kyc-events", "kyc.manual_review")]

    after = await assess(fleet, "TXN_RESCREEN_2", "cust_777")
    assert after["decision"] == "DENY", after
    assert "KYC_SANCTIONS_REVIEW" in [r["code"] for r in after["reasons"]]
    clear = await assess(fleet, "TXN_RESCREEN_3", "cust_001")
    assert clear["decision"] != "DENY"

    # The same list version again re-screens nothing and records nothing twice.
    assert await fleet.ofac.state.lists.refresh() == {"OFAC_SDN": None}
    again = (await fleet.kyc.get("/customers/cust_777/sanctions-hits", headers=REVIEWER)).json()["hits"]
    assert len(again) == 1


async def test_a_reviewer_decision_lifts_the_kyc_hold(fleet: Fleet) -> None:
    fleet.lists.extra = NEWLY_LISTED
    await fleet.ofac.state.lists.refresh()
    review = {"reviewer": "compliance-1", "note": "different person: date of birth differs"}
    decided = await fleet.kyc.post("/customers/cust_777/review/approve", json=review, headers=REVIEWER)
    assert decided.status_code == 200, decided.text
    status = (await fleet.kyc.post("/check-status", json={"customer_id": "cust_777"})).json()
    assert (status["status"], status["reasons"]) == ("VERIFIED", ["APPROVED_BY_REVIEWER"])
    after = await assess(fleet, "TXN_RESCREEN_4", "cust_777")
    assert "KYC_SANCTIONS_REVIEW" not in [r["code"] for r in after["reasons"]]


@pytest.mark.parametrize("risk_caches", ["default"])
async def test_with_the_default_caches_a_payment_right_after_a_listing_is_denied(fleet: Fleet) -> None:
    # Payments just before the update: the payer's and the payee's answers are fresh in risk.
    before = await assess(fleet, "TXN_RESCREEN_C1", "cust_777")
    assert before["decision"] in ("ALLOW", "CHALLENGE"), before

    fleet.lists.extra = NEWLY_LISTED
    assert await fleet.ofac.state.lists.refresh() == {"OFAC_SDN": None}

    after = await assess(fleet, "TXN_RESCREEN_C2", "cust_777")
    assert after["decision"] == "DENY", after
    codes = [r["code"] for r in after["reasons"]]
    assert "KYC_SANCTIONS_REVIEW" in codes
    assert "SANCTIONS_HIT" in codes, codes
