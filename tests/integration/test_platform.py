"""The platform as a newcomer meets it: one URL, two gateways, every service answering."""

from __future__ import annotations

import os

import httpx
import pytest

from tools.devstack.fleet import NGINX_HTTPS_PORT

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


def test_nginx_terminates_tls(fleet_url: str) -> None:
    # An external fleet (FLEET_URL) serves TLS on its default port; ours on NGINX_HTTPS_PORT too.
    base = (
        fleet_url.replace("http://", "https://", 1)
        if os.environ.get("FLEET_URL")
        else f"https://localhost:{NGINX_HTTPS_PORT}"
    )
    with httpx.Client(verify=False, timeout=10) as client:  # noqa: S501 - the dev certificate is self-signed
        response = client.get(f"{base}/health")
    assert response.status_code == 200 and response.json()["service"] == "gateway"
