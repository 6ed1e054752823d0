"""The platform as a newcomer meets it: one URL, two gateways, every service answering."""

from __future__ import annotations

import httpx
import pytest

from .conftest import SERVICE_URLS

pytestmark = pytest.mark.integration


def test_both_gateway_instances_answer_behind_nginx(gateway: httpx.Client) -> None:
    instances = set()
    for _ in range(6):
        response = gateway.get("/health")
        assert response.status_code == 200
        assert response.headers["x-request-id"], "nginx adds a request id"
        instances.add(response.json()["instance"])
    assert instances == {"gateway-1", "gateway-2"}


def test_every_service_is_ready_and_exports_metrics(services: dict[str, httpx.Client]) -> None:
    for name in SERVICE_URLS:
        ready = services[name].get("/ready")
        assert ready.status_code == 200, f"{name}: {ready.text}"
        metrics = services[name].get("/metrics")
        assert metrics.status_code == 200 and "http_requests_total" in metrics.text, name


def test_errors_are_problem_json_without_internals(gateway: httpx.Client) -> None:
    response = gateway.post("/auth/login", content=b"{not json", headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text
    too_big = gateway.post(
        "/auth/login", content=b"x" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert too_big.status_code == 413
