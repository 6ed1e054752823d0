"""The ofac service starts, loads its list and answers its operational endpoints."""

from __future__ import annotations

from ofac.main import OfacSettings, create_app
from paykit.testing import running_app


async def test_health_ready_metrics(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "ofac"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["sanctions_list"] == "up"
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "OFAC Service"
        current = await client.get("/lists/current")
        assert current.json()["entities"] == 8976
        assert current.json()["list_version"].startswith("sdn-2021-07-")
