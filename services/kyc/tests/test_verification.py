"""KYC over HTTP: status and limits, verification with automatic checks (the name screened by
the real OFAC app), reviewers, and an outbox event for every change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from kyc.main import KycSettings, create_app
from paykit.testing import running_app

from .conftest import REVIEWER

SEED = Path(__file__).resolve().parents[3] / "database" / "seed" / "kyc.sql"


def _adult_dob(years: int = 30) -> str:
    today = datetime.now(UTC).date()
    return date(today.year - years, 1, 1).isoformat()


def _minor_dob() -> str:
    today = datetime.now(UTC).date()
    return date(today.year - 17, 12, 31).isoformat()


def body(**overrides: Any) -> dict[str, Any]:
    data = {
        "full_name": "Jane Doe",
        "date_of_birth": _adult_dob(),
        "country": "US",
        "address": "1 Main Street, Springfield",
        "document_type": "PASSPORT",
        "document_number": "X1234567",
    }
    data.update(overrides)
    return data


async def outbox(settings: KycSettings) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(settings.postgres_url, server_settings={"search_path": "kyc"})
    try:
        rows = await conn.fetch("SELECT topic, event_key, event FROM outbox ORDER BY id")
    finally:
        await conn.close()
    return [{"topic": r["topic"], "key": r["event_key"], **json.loads(r["event"])} for r in rows]


async def status(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await client.post("/check-status", json={"customer_id": customer_id})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_common_spellings_of_a_verification_are_understood(client: httpx.AsyncClient) -> None:
    loose = {
        "name": "Jane Doe",
        "date_of_birth": _adult_dob(),
        "country": "us",
        "address": {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345"},
        "document_type": "passport",
        "document_number": "x1234567",
        "nationality": "US",  # not ours to use: ignored
    }
    response = await client.post("/customers/cust_loose/verification", json=loose)
    assert response.status_code in (200, 201), response.text
    assert response.json()["status"] == "VERIFIED"
    licence = await client.post(
        "/customers/cust_licence/verification",
        json=body(document_type="driver's license", document_number="D12345"),
    )
    assert licence.json()["status"] == "VERIFIED", licence.text


async def test_unknown_customer_is_unverified_on_tier_zero(client: httpx.AsyncClient) -> None:
    result = await status(client, "cust_new")
    assert result == {
        "customer_id": "cust_new",
        "verified": False,
        "status": "UNVERIFIED",
        "tier": 0,
        "limits": {
            "currency": "USD",
            "per_payment_minor": 1_000_000,
            "daily_minor": 2_000_000,
            "per_payment": "10000.00",
            "daily": "20000.00",
        },
        "reasons": [],
    }


async def test_tier_limits_are_data_and_grow_with_the_tier(client: httpx.AsyncClient) -> None:
    tiers = (await client.get("/tiers")).json()["tiers"]
    assert [t["tier"] for t in tiers] == [0, 1, 2, 3]
    per_payment = [t["limits"]["per_payment_minor"] for t in tiers]
    daily = [t["limits"]["daily_minor"] for t in tiers]
    assert per_payment == sorted(per_payment) and daily == sorted(daily)
    assert all(t["limits"]["daily_minor"] >= t["limits"]["per_payment_minor"] for t in tiers)
    # The seed's demo payments (up to 10,000.00) fit tier 0.
    assert tiers[0]["limits"]["per_payment_minor"] >= 1_000_000


async def test_a_valid_document_verifies_and_raises_the_limits(
    client: httpx.AsyncClient, settings: KycSettings
) -> None:
    before = await status(client, "cust_002")
    response = await client.post("/customers/cust_002/verification", json=body())
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["status"], record["verified"], record["tier"], record["reasons"]) == (
        "VERIFIED",
        True,
        1,
        [],
    )
    assert record["document_last4"] == "4567"
    assert "X1234567" not in response.text
    after = await status(client, "cust_002")
    assert after["verified"] is True
    assert after["limits"]["per_payment_minor"] > before["limits"]["per_payment_minor"]
    assert after["limits"]["daily_minor"] > before["limits"]["daily_minor"]
    events = await outbox(settings)
    assert [e["type"] for e in events] == ["kyc.pending", "kyc.verified"]
    assert {e["topic"] for e in events} == {"kyc-events"}
    assert {e["key"] for e in events} == {"cust_002"}
    assert events[1]["data"]["previous_status"] == "PENDING"
    assert events[1]["data"]["tier"] == 1
    assert events[1]["specversion"] == "1.0"


@pytest.mark.parametrize(
    ("overrides", "expected_status", "reason"),
    [
        ({"date_of_birth": _minor_dob()}, "REJECTED", "UNDERAGE"),
        ({"full_name": "Manuel Antonio Noriega", "country": "PA"}, "REJECTED", "SANCTIONS_MATCH"),
        ({"full_name": "NORIEGA, Manuel Antonio"}, "REJECTED", "SANCTIONS_MATCH"),
        ({"full_name": "Manuel Noriega"}, "MANUAL_REVIEW", "SANCTIONS_POSSIBLE_MATCH"),
        ({"country": "KP"}, "REJECTED", "COUNTRY_SANCTIONED"),
        ({"document_number": "12"}, "REJECTED", "DOCUMENT_FORMAT_INVALID"),
    ],
)
async def test_automatic_checks_refuse_or_escalate(
    client: httpx.AsyncClient, overrides: dict[str, Any], expected_status: str, reason: str
) -> None:
    record = (await client.post("/customers/cust_x/verification", json=body(**overrides))).json()
    assert record["status"] == expected_status
    assert reason in record["reasons"]
    assert (record["verified"], record["tier"]) == (False, 0)
    assert (await status(client, "cust_x"))["verified"] is False


async def test_ofac_down_sends_the_case_to_review(settings: KycSettings) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    settings = settings.model_copy(update={"http_retries_max": 0})
    async with running_app(create_app(settings, ofac_transport=httpx.MockTransport(down))) as client:
        record = (await client.post("/customers/cust_y/verification", json=body())).json()
        assert (record["status"], record["reasons"]) == ("MANUAL_REVIEW", ["SCREENING_UNAVAILABLE"])


@pytest.mark.parametrize(
    "overrides",
    [
        {"date_of_birth": "2999-01-01"},
        {"date_of_birth": "not-a-date"},
        {"country": "USA"},
        {"document_type": "LIBRARY_CARD"},
        {"full_name": ""},
        {"address": "x"},
    ],
)
async def test_bad_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, settings: KycSettings, overrides: dict[str, Any]
) -> None:
    response = await client.post("/customers/cust_z/verification", json=body(**overrides))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/customers/cust_z")).status_code == 404
    assert await outbox(settings) == []


async def test_reviewers_decide_cases_in_review(client: httpx.AsyncClient, settings: KycSettings) -> None:
    await client.post("/customers/cust_r/verification", json=body(full_name="Manuel Noriega"))
    queue = await client.get("/review-queue", headers=REVIEWER)
    assert [r["customer_id"] for r in queue.json()["records"]] == ["cust_r"]
    # The customer cannot resubmit their way out of review.
    again = await client.post("/customers/cust_r/verification", json=body())
    assert (again.status_code, again.json()["code"]) == (409, "KYC_UNDER_REVIEW")
    unauthorized = await client.post("/customers/cust_r/review/approve", json={"reviewer": "ann"})
    assert unauthorized.status_code == 401
    approved = await client.post(
        "/customers/cust_r/review/approve",
        headers=REVIEWER,
        json={"reviewer": "ann", "note": "different person: DOB differs", "tier": 2},
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["tier"], approved.json()["reviewed_by"]) == (
        "VERIFIED",
        2,
        "ann",
    )
    rejected = await client.post(
        "/customers/cust_r/review/reject", headers=REVIEWER, json={"reviewer": "bob", "note": "fraud"}
    )
    assert (rejected.json()["status"], rejected.json()["tier"]) == ("REJECTED", 0)
    types = [e["type"] for e in await outbox(settings)]
    assert types == ["kyc.pending", "kyc.manual_review", "kyc.verified", "kyc.rejected"]
    last = (await outbox(settings))[-1]["data"]
    assert (last["actor"], last["previous_status"], last["previous_tier"]) == ("reviewer:bob", "VERIFIED", 2)


async def test_invalid_review_transitions_are_409(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        "/customers/nobody/review/approve", headers=REVIEWER, json={"reviewer": "ann"}
    )
    assert unknown.status_code == 404
    await client.post("/customers/cust_u/verification", json=body(date_of_birth=_minor_dob()))
    no_note = await client.post(
        "/customers/cust_u/review/approve", headers=REVIEWER, json={"reviewer": "ann"}
    )
    assert (no_note.status_code, no_note.json()["code"]) == (422, "REVIEW_NOTE_REQUIRED")
    rejected_twice = await client.post(
        "/customers/cust_u/review/reject", headers=REVIEWER, json={"reviewer": "ann"}
    )
    assert (rejected_twice.status_code, rejected_twice.json()["code"]) == (409, "INVALID_KYC_TRANSITION")


async def test_dev_seed_matches_the_contract(
    settings: KycSettings, ofac_transport: httpx.ASGITransport
) -> None:
    seeded = settings.model_copy(update={"dev_seed_file": str(SEED), "app_env": "development"})
    async with running_app(create_app(seeded, ofac_transport=ofac_transport)) as client:
        got = {c: await status(client, c) for c in ("cust_001", "cust_002", "cust_003")}
    assert {c: (r["status"], r["tier"]) for c, r in got.items()} == {
        "cust_001": ("VERIFIED", 3),
        "cust_002": ("UNVERIFIED", 0),
        "cust_003": ("VERIFIED", 2),
    }
    assert got["cust_001"]["limits"]["per_payment"] == "100000.00"


async def test_screening_uses_the_date_of_birth_kyc_collected(client: httpx.AsyncClient) -> None:
    # "WEI, Zhang" is an alias of SDN 23647, born 16 Sep 1952: the same name and birth date
    # is that person; the same name with another birth date is a namesake.
    listed = body(full_name="Wei Zhang", date_of_birth="1952-09-16", country="CN")
    record = (await client.post("/customers/cust_w1/verification", json=listed)).json()
    assert (record["status"], record["reasons"]) == ("REJECTED", ["SANCTIONS_MATCH"])
    namesake = body(full_name="Wei Zhang", country="CN")
    record = (await client.post("/customers/cust_w2/verification", json=namesake)).json()
    assert (record["status"], record["reasons"]) == ("VERIFIED", [])
