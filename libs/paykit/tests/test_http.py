"""The inter-service client: bounded retries only for idempotent calls, a circuit breaker,
trace and correlation headers on every call."""

from __future__ import annotations

import httpx
import pytest
from paykit.context import correlation_id_var
from paykit.http import ServiceClient, ServiceTimeout, ServiceUnavailable


def counting(status: int) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={})

    return seen, httpx.MockTransport(handler)


async def test_a_post_without_key_is_never_retried() -> None:
    seen, transport = counting(503)
    client = ServiceClient("svc", "http://svc", retries_max=3, transport=transport)
    with pytest.raises(ServiceUnavailable):
        await client.call("POST", "/pay", json={})
    assert len(seen) == 1
    await client.aclose()


async def test_an_idempotent_call_is_retried_a_bounded_number_of_times() -> None:
    seen, transport = counting(503)
    client = ServiceClient("svc", "http://svc", retries_max=2, transport=transport)
    with pytest.raises(ServiceUnavailable):
        await client.call("POST", "/holds", json={}, idempotency_key="pay-1")
    assert len(seen) == 3 and all(r.headers["idempotency-key"] == "pay-1" for r in seen)
    await client.aclose()


async def test_4xx_is_an_answer_not_a_fault() -> None:
    seen, transport = counting(422)
    client = ServiceClient("svc", "http://svc", retries_max=2, transport=transport)
    response = await client.call("GET", "/x")
    assert response.status_code == 422 and len(seen) == 1
    await client.aclose()


async def test_the_breaker_opens_after_repeated_failures() -> None:
    seen, transport = counting(500)
    client = ServiceClient("svc", "http://svc", retries_max=0, breaker_threshold=3, transport=transport)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            await client.call("GET", "/x")
    with pytest.raises(ServiceUnavailable, match="circuit open"):
        await client.call("GET", "/x")
    assert len(seen) == 3, "an open circuit fails fast without calling"
    await client.aclose()


async def test_a_read_timeout_is_an_unknown_outcome() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = ServiceClient("bank", "http://bank", retries_max=2, transport=httpx.MockTransport(slow))
    with pytest.raises(ServiceTimeout):
        await client.call("POST", "/process-transfer", json={}, idempotency_key="p")
    await client.aclose()


async def test_correlation_and_trace_context_travel(span_exporter: object) -> None:
    from opentelemetry import trace

    seen, transport = counting(200)
    client = ServiceClient("svc", "http://svc", transport=transport)
    token = correlation_id_var.set("corr-42")
    try:
        with trace.get_tracer("test").start_as_current_span("parent"):
            await client.call("GET", "/x")
    finally:
        correlation_id_var.reset(token)
    assert seen[0].headers["x-correlation-id"] == "corr-42"
    assert seen[0].headers["traceparent"].startswith("00-")
    await client.aclose()


async def test_paths_join_the_base_url_as_httpx_joins_them_every_time() -> None:
    seen, transport = counting(200)
    client = ServiceClient("svc", "http://svc:8080/api", transport=transport)
    await client.call("GET", "/parties", params={"payer": "c-1"})
    await client.call("GET", "/parties", params={"payer": "c-2"})
    await client.call("GET", "holds/h-1")
    await client.call("GET", "/parties")
    assert [str(r.url) for r in seen] == [
        "http://svc:8080/api/parties?payer=c-1",
        "http://svc:8080/api/parties?payer=c-2",
        "http://svc:8080/api/holds/h-1",
        "http://svc:8080/api/parties",
    ]
    await client.aclose()
