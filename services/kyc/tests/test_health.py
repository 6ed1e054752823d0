"""The kyc service starts, migrates, relays its outbox and answers its operational endpoints."""

from __future__ import annotations

import pytest
from kyc.main import KycSettings, create_app
from paykit.testing import running_app


async def test_health_ready_metrics(settings: KycSettings) -> None:
    with_relay = settings.model_copy(update={"kyc_outbox_relay": True})
    async with running_app(create_app(with_relay)) as client:
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["service"] == "kyc"
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"postgres", "broker"}
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        openapi = await client.get("/openapi.json")
        assert openapi.json()["info"]["title"] == "KYC Service"


def test_production_refuses_placeholder_secrets() -> None:
    strong = "a-real-secret-that-is-long-enough"
    with pytest.raises(ValueError, match="KYC_REVIEWER_TOKEN"):
        KycSettings(app_env="production", jwt_secret=strong, kyc_document_key=strong)
