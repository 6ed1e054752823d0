"""The account service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from account.main import AccountSettings, create_app
from paykit.testing import running_app


async def test_health_ready_metrics(settings: AccountSettings) -> None:
    async with running_app(create_app(settings)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "account"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "Account Service"
