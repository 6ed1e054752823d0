"""Observability for real, on the process stack: every service exports to a real Jaeger (the
v2 binary built from its Go module, observability/jaeger.yml), a real Prometheus scrapes every
target of observability/prometheus.yml, and the dashboards read metrics that exist."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from typing import Any

import httpx
import pytest

from tools.stack import compose, services
from tools.stack.processes import LocalStack

from .checks import login, pay_once_through_the_edge

pytestmark = pytest.mark.integration
WAIT_S = 45.0
DASHBOARDS = compose.REPO / "observability" / "grafana" / "dashboards"
# Every hop of a payment: the HTTP chain, and the Kafka consumers of payment-events.
TRACE_SERVICES = {
    "gateway",
    "confirm",
    "risk",
    "ofac",
    "kyc",
    "account",
    "partner_bank",
    "audit",
    "notification",
}
KAFKA_CONSUMERS = {"audit", "notification"}


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def _services_in(trace: dict[str, Any]) -> dict[str, set[str]]:
    """service name -> span kinds it contributed."""
    processes = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    kinds: dict[str, set[str]] = {}
    for span in trace["spans"]:
        kinds.setdefault(processes[span["processID"]], set()).add(str(_tags(span).get("span.kind", "")))
    return kinds


def test_one_payment_is_one_trace_through_every_service_and_both_consumers(
    stack: LocalStack, edge: httpx.Client
) -> None:
    auth = login(edge)
    trace_id = secrets.token_hex(16)
    body = {
        "transaction_id": f"txn_{uuid.uuid4().hex[:12]}",
        "customer_id": "cust_001",
        "amount": "12.00",
        "from_account": "ACC001",
        "to_account": "ACC002",
    }
    headers = {
        **auth,
        "Idempotency-Key": str(uuid.uuid4()),
        # The client starts the trace; nginx passes it on, every hop continues it.
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    response = edge.post("/payment/confirm", json=body, headers=headers)
    assert response.status_code == 200 and response.json()["state"] == "COMPLETED", response.text
    deadline = time.monotonic() + WAIT_S
    seen: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        trace = stack.jaeger.trace(trace_id)
        seen = _services_in(trace) if trace else {}
        if set(seen) >= TRACE_SERVICES and all("consumer" in seen[s] for s in KAFKA_CONSUMERS):
            break
        time.sleep(1)
    assert set(seen) >= TRACE_SERVICES, f"missing from the trace: {sorted(TRACE_SERVICES - set(seen))}"
    for consumer in KAFKA_CONSUMERS:
        assert "consumer" in seen[consumer], f"{consumer}: no Kafka consumer span ({seen[consumer]})"
    assert "producer" in set().union(*seen.values()), "no Kafka producer span links the consumers"


def _targets(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.prometheus.api("targets")["activeTargets"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_every_service_and_every_target_is_up(stack: LocalStack) -> None:
    expected = {
        name: f"http://{stack.address(name)}:{stack.service_environment(name)['PORT']}/metrics"
        for name in services.app_services(stack.model)
    }

    def settled(targets: list[dict[str, Any]]) -> bool:
        # Prometheus finds its targets a moment after it starts: none (or some) listed yet,
        # or listed as "unknown" until their first scrape, is not yet an answer.
        up = {t["scrapeUrl"] for t in targets if t["health"] == "up"}
        return set(expected.values()) <= up and all(t["health"] == "up" for t in targets)

    deadline = time.monotonic() + WAIT_S
    targets = _targets(stack)
    while not settled(targets) and time.monotonic() < deadline:
        time.sleep(1)
        targets = _targets(stack)
    down = {t["scrapeUrl"]: t["lastError"] for t in targets if t["health"] != "up"}
    assert not down, down
    scraped = {t["scrapeUrl"] for t in targets}
    for name, url in expected.items():
        assert url in scraped, f"{name} is not scraped"
    assert {t["labels"]["job"] for t in targets} >= {"payment-services", "jaeger", "prometheus"}


def _value(stack: LocalStack, query: str) -> float:
    result = stack.prometheus.api("query", query=query)["result"]
    return sum(float(r["value"][1]) for r in result)


def _wait_for(stack: LocalStack, query: str, minimum: float) -> float:
    """The query's value once it reaches `minimum`, or its last value after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    value = _value(stack, query)
    while value < minimum and time.monotonic() < deadline:
        time.sleep(1)
        value = _value(stack, query)
    return value


def test_funnel_latency_reconciliation_and_shedding_are_there_after_a_few_payments(
    stack: LocalStack, edge: httpx.Client
) -> None:
    before = _value(stack, 'sum(payments_total{state="COMPLETED"})')
    for _ in range(3):
        pay_once_through_the_edge(edge)
    assert _wait_for(stack, 'sum(payments_total{state="COMPLETED"})', before + 3) >= before + 3
    for state in ("REQUIRES_CONFIRMATION", "FUNDS_HELD", "COMPLETED"):
        assert _value(stack, f'count(payments_total{{state="{state}"}})') >= 1, f"no {state} in the funnel"
    assert _value(stack, 'count(http_request_duration_seconds_bucket{service="confirm",le="+Inf"})') >= 1
    assert _value(stack, "count(reconciliation_open_breaks)") >= 1
    shed_series = _value(stack, 'count(http_requests_shed_total{job="payment-services"})')
    assert shed_series >= len(services.app_services(stack.model)), "every service exports its shed counter"


@pytest.fixture(scope="module")
def dead_letters(stack: LocalStack) -> float:
    """A poison message on payment-events: both consumer groups dead-letter it (the real DLQ
    path), which creates their events_dead_lettered_total series."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, request_timeout_ms=10_000)
        await producer.start()
        try:
            await producer.send_and_wait("payment-events", b"{not a cloud event", key=b"poison")
        finally:
            await producer.stop()

    asyncio.run(send())
    return _wait_for(
        stack, 'count(events_dead_lettered_total{topic="payment-events"} > 0)', len(KAFKA_CONSUMERS)
    )


def test_a_dead_letter_is_counted_and_the_alert_fires_in_prometheus(
    stack: LocalStack, dead_letters: float
) -> None:
    assert dead_letters >= len(KAFKA_CONSUMERS), "audit and notification each dead-letter the poison message"
    firing = _wait_for(stack, 'count(ALERTS{alertname="DeadLetteredEvents",alertstate="firing"})', 1)
    assert firing >= 1, "the DeadLetteredEvents rule did not fire in the real Prometheus"


def _metric_names(stack: LocalStack) -> set[str]:
    return set(stack.prometheus.api("label/__name__/values"))


def test_every_dashboard_query_names_metrics_the_fleet_really_exports(
    stack: LocalStack, dead_letters: float
) -> None:
    from tests.deploy.test_dashboards import dashboard_queries, metric_names

    exported = _metric_names(stack)
    for path in sorted(DASHBOARDS.glob("*.json")):
        for title, expr in dashboard_queries(json.loads(path.read_text())):
            names = metric_names(expr)
            assert names, f"{path.name} {title!r}: no metric in {expr!r}"
            unknown = {n for n in names if n not in exported and not re.fullmatch(r"up", n)}
            assert not unknown, f"{path.name} {title!r} reads {sorted(unknown)}, which nothing exports"
