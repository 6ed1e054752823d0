"""The otp service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

import pytest
from otp.main import OtpSettings, create_app
from paykit.testing import running_app


@pytest.fixture
def settings(redis_url: str) -> OtpSettings:
    return OtpSettings(app_env="test", redis_url=redis_url)


async def test_health_ready_metrics(settings: OtpSettings) -> None:
    async with running_app(create_app(settings)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "otp"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "OTP Service"
