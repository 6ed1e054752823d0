"""Never "clear" on nothing: a screening with nothing to screen is refused, not passed."""

from __future__ import annotations

from typing import Any

import pytest
from ofac.main import OfacSettings, create_app
from paykit.testing import running_app


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   \t "},
        {"name": None, "country": "US"},
        {"name": "12345 -- ./"},
        {"customer_id": "", "name": ""},
        {"customer_id": "   "},
    ],
)
async def test_nothing_to_screen_is_a_422_not_a_clear(settings: OfacSettings, body: dict[str, Any]) -> None:
    async with running_app(create_app(settings)) as client:
        response = await client.post("/check-sanctions", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "NOTHING_TO_SCREEN"


async def test_a_blocklisted_customer_id_alone_is_still_blocked(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        response = await client.post("/check-sanctions", json={"customer_id": "BLOCKED_CUSTOMER_001"})

    assert response.status_code == 200
    assert response.json()["is_sanctioned"] is True
