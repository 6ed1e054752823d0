"""`docker compose up` without an engine: the stack as processes with compose's own
environment (production), nginx with the compose nginx.conf, the demo data loaded as
docker/compose.demo.yml loads it. Every service turns healthy and a payment goes through."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tools.stack import compose, services
from tools.stack.processes import LocalStack

from .checks import pay_once_through_the_edge

pytestmark = pytest.mark.integration
POLL_TIMEOUT_S = 30


def _instances_answering(edge: httpx.Client, tries: int) -> list[str]:
    answers = []
    for _ in range(tries):
        response = edge.get("/health")
        assert response.status_code == 200, response.text
        answers.append(response.json()["instance"])
    return answers


def test_every_compose_service_runs_in_production_and_is_ready(stack: LocalStack) -> None:
    apps = services.app_services(stack.model)
    with httpx.Client(timeout=5, trust_env=False) as client:
        for name in apps:
            env = stack.service_environment(name)
            assert env["APP_ENV"] == "production"
            ready = client.get(f"http://{stack.address(name)}:{env['PORT']}/ready")
            assert ready.status_code == 200, f"{name}: {ready.text}"
    assert stack.running()["load-balancer"].poll() is None


def test_nginx_health_answers_on_port_80_for_the_container_health_check(stack: LocalStack) -> None:
    response = httpx.get(f"{stack.nginx_http}/nginx-health", timeout=5, trust_env=False)
    assert response.status_code == 200 and response.json()["service"] == "load-balancer"


def test_ofac_fetched_the_list_from_the_compose_url_at_start(stack: LocalStack) -> None:
    source = compose.raw_environment(stack.model["services"]["ofac-service"])["OFAC_LIST_SOURCE"]
    assert source.startswith("https://")
    assert stack.list_server is not None
    assert any(path.lower().endswith("/sdn.csv") for path in stack.list_server.requests)


def test_a_payment_goes_through_nginx_and_its_audit_entries_reach_the_search_index(
    stack: LocalStack, edge: httpx.Client
) -> None:
    answer = pay_once_through_the_edge(edge)
    index = compose.raw_environment(stack.model["services"]["audit-service"])["ELASTICSEARCH_INDEX"]
    deadline = time.monotonic() + POLL_TIMEOUT_S
    types: set[str] = set()
    while "payment.completed" not in types and time.monotonic() < deadline:
        docs = stack.elasticsearch.documents.get(index, {}).values()
        types = {d["event_type"] for d in docs if d["transaction_id"] == answer["transaction_id"]}
        time.sleep(0.3)
    assert "payment.completed" in types, types


def test_nginx_balances_both_gateways_and_follows_one_recreated_elsewhere(
    stack: LocalStack, edge: httpx.Client
) -> None:
    # nginx starts each request at a random one of the resolved addresses.
    assert set(_instances_answering(edge, 20)) == {"api-gateway-1", "api-gateway-2"}
    stack.stop_service("api-gateway-2")
    # One gateway gone: every request is still answered (nginx tries the other address).
    assert set(_instances_answering(edge, 10)) == {"api-gateway-1"}
    # Recreated at a new address (as `docker compose up` recreates a container): nginx finds it
    # through the resolver, which a gateway resolved once at start would never do.
    stack.recreate_service("api-gateway-2", "127.0.10.200")
    deadline = time.monotonic() + POLL_TIMEOUT_S
    seen: set[str] = set()
    while "api-gateway-2" not in seen and time.monotonic() < deadline:
        seen |= set(_instances_answering(edge, 2))
        time.sleep(0.5)
    assert "api-gateway-2" in seen


def _edge_log_line(stack: LocalStack, request_id: str) -> dict[str, object]:
    """nginx's access-log line (JSON, on its stdout as in the container) for one request."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in (stack.work_dir / "logs" / "load-balancer.log").read_text().splitlines():
            if request_id in line and line.startswith("{"):
                entry: dict[str, object] = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
        time.sleep(0.2)
    raise AssertionError(f"no access-log line for {request_id}")


def test_nginx_logs_the_refusals_it_answers_itself_apart_from_the_gateways_answers(
    stack: LocalStack, edge: httpx.Client
) -> None:
    # Refusals made at the edge never reach a service's /metrics; the dashboard counts them
    # from this field of nginx's log (filebeat ships it to Elasticsearch).
    too_large = edge.post("/payment/confirm", content=b"{" + b" " * 70_000 + b"}")
    assert too_large.status_code == 413
    refused = _edge_log_line(stack, too_large.headers["X-Request-ID"])
    assert refused["status"] == 413 and refused["edge_refusal"] == "PAYLOAD_TOO_LARGE"

    # A gateway's own refusal (here 401) passes through: nginx refused nothing.
    answered = edge.post("/payment/confirm", json={"amount": 1})
    assert answered.status_code == 401
    passed = _edge_log_line(stack, answered.headers["X-Request-ID"])
    assert passed["status"] == 401 and passed["edge_refusal"] == ""
