"""The ofac service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ofac.main import OfacSettings, create_app
from paykit.testing import DatabaseFactory, running_app


@pytest.fixture
def settings(database_factory: DatabaseFactory, redis_url: str) -> Iterator[OfacSettings]:
    url = ""
    yield OfacSettings(app_env="test")
    del url


async def test_health_ready_metrics(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "ofac"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "OFAC Service"
