"""What every service refuses before its handler runs: JSON numbers that cannot be read
exactly or cheaply (an exponent, too many digits, NaN) and NUL characters anywhere in the
request, each a 422 problem with a stable code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from paykit.config import ServiceSettings
from paykit.errors import ProblemError
from paykit.guard import parse_json
from paykit.money import parse_amount_minor
from paykit.service import create_service_app
from paykit.testing import running_app
from pydantic import BaseModel


class Payment(BaseModel):
    amount: Any
    memo: str = ""
    tags: list[str] = []
    rate: float = 0.0


def build_app() -> tuple[FastAPI, list[Any]]:
    seen: list[Any] = []
    app = create_service_app(ServiceSettings(service_name="probe"), title="Probe")

    @app.post("/payments")
    async def pay(body: Payment) -> dict[str, Any]:
        seen.append(body)
        return {"amount_minor": parse_amount_minor(body.amount), "memo": body.memo}

    @app.get("/accounts/{number}")
    async def account(number: str, q: str = "") -> dict[str, str]:
        seen.append(number)
        return {"number": number, "q": q}

    return app, seen


async def post_raw(app: FastAPI, raw: str) -> Any:
    async with running_app(app) as client:
        return await client.post("/payments", content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "literal",
    [
        "1e999990",  # a million-digit number if anything ever computed with it
        "1E+2",
        "100000000000000000000000000000000000000000000001",
        "1000.0000000000000001",  # a double reads this as 1000.0: the client meant something else
        "NaN",
        "-Infinity",
    ],
)
async def test_an_amount_number_that_cannot_be_read_exactly_is_invalid_amount(literal: str) -> None:
    app, seen = build_app()
    response = await post_raw(app, f'{{"amount": {literal}}}')
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "INVALID_AMOUNT" and response.json()["field"] == "amount"
    assert seen == [], "the handler never saw it"


async def test_other_numbers_are_invalid_number_and_plain_ones_pass() -> None:
    app, seen = build_app()
    refused = await post_raw(app, '{"amount": "10.00", "rate": 5e-324}')
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_NUMBER"
    assert refused.json()["field"] == "rate"
    ok = await post_raw(app, '{"amount": 1000.10, "rate": 0.25}')
    assert ok.status_code == 200 and ok.json()["amount_minor"] == 100_010
    assert len(seen) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"amount": "10.00", "memo": "rent\\u0000"}',
        '{"amount": "10.00", "tags": ["a", "b\\u0000c"]}',
        '{"amount": "10.00", "me\\u0000mo": "x"}',
    ],
)
async def test_a_nul_character_in_any_string_is_422(body: str) -> None:
    app, seen = build_app()
    response = await post_raw(app, body)
    assert response.status_code == 422 and response.json()["code"] == "INVALID_CHARACTER", response.text
    assert seen == []


async def test_a_nul_character_in_the_path_or_query_is_422() -> None:
    app, seen = build_app()
    async with running_app(app) as client:
        in_path = await client.get("/accounts/ACC%00001")
        in_query = await client.get("/accounts/ACC001", params={"q": "a\x00b"})
        fine = await client.get("/accounts/ACC001", params={"q": "ab"})
    assert in_path.status_code == 422 and in_path.json()["code"] == "INVALID_CHARACTER"
    assert in_query.status_code == 422 and in_query.json()["code"] == "INVALID_CHARACTER"
    assert fine.status_code == 200 and seen == ["ACC001"]


def test_parse_json_is_the_same_guard_for_bodies_a_service_reads_itself() -> None:
    assert parse_json(b'{"amount": 12.5, "n": [1, "x"]}') == {"amount": 12.5, "n": [1, "x"]}
    with pytest.raises(ProblemError) as refused:
        parse_json(b'{"payment": {"amount": 1e999990}}')
    assert refused.value.code == "INVALID_AMOUNT" and refused.value.extra["field"] == "payment.amount"
    with pytest.raises(ProblemError) as nul:
        parse_json(b'["ok", "n\\u0000"]')
    assert nul.value.code == "INVALID_CHARACTER"
