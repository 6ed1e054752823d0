"""POST /check-sanctions/batch: a payment's parties screened in one call, each exactly as
/check-sanctions screens it, in the order asked; bounded; nothing to screen is still refused."""

from __future__ import annotations

from typing import Any

from ofac.main import OfacSettings, create_app
from paykit.testing import running_app, service_headers

CHECKS: list[dict[str, Any]] = [
    {"customer_id": "cust_001", "name": "John Smith", "country": "US"},
    {"customer_id": "cust_003", "name": "Manuel Antonio Noriega", "country": "PA"},
    {"customer_id": None, "name": "Jane Doe", "country": None},
]
# Differs between two answers to the same question.
VOLATILE = ("check_timestamp",)


def _stable(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in VOLATILE}


async def test_each_check_is_answered_as_check_sanctions_answers_in_order(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        response = await client.post("/check-sanctions/batch", json={"checks": CHECKS})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        singles = [(await client.post("/check-sanctions", json=check)).json() for check in CHECKS]
    assert [_stable(r) for r in results] == [_stable(s) for s in singles]
    assert [r["is_sanctioned"] for r in results] == [False, True, False]


async def test_an_empty_oversized_or_blank_batch_is_refused(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        for checks, code in [
            ([], "VALIDATION_ERROR"),
            ([CHECKS[0]] * 11, "VALIDATION_ERROR"),
            ([CHECKS[0], {"name": "  "}], "NOTHING_TO_SCREEN"),
        ]:
            response = await client.post("/check-sanctions/batch", json={"checks": checks})
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            if code == "NOTHING_TO_SCREEN":
                assert response.json()["code"] == code


async def test_only_risk_and_ops_may_ask(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        for caller, expected in [("risk", 200), ("ops", 200), ("kyc", 403), ("gateway", 403)]:
            response = await client.post(
                "/check-sanctions/batch", json={"checks": CHECKS[:1]}, headers=service_headers(caller, "ofac")
            )
            assert response.status_code == expected, (caller, response.text)
