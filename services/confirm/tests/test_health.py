"""The confirm service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confirm.main import MIGRATIONS, ConfirmSettings, create_app
from paykit.testing import DatabaseFactory, running_app


@pytest.fixture
def settings(database_factory: DatabaseFactory, redis_url: str) -> Iterator[ConfirmSettings]:
    url = database_factory.create("confirm", MIGRATIONS)
    yield ConfirmSettings(app_env="test", postgres_url=url, redis_url=redis_url)
    database_factory.drop(url)


async def test_health_ready_metrics(settings: ConfirmSettings) -> None:
    async with running_app(create_app(settings)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "confirm"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "Confirm Service"
