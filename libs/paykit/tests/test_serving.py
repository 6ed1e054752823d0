"""Deadlines travel across hops and are refused once spent; admission control sheds the
excess with a fast 503 and Retry-After, never touching /health, /ready or /metrics."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from paykit import deadline
from paykit.config import ServiceSettings
from paykit.http import ServiceClient, ServiceUnavailable
from paykit.service import create_service_app
from paykit.telemetry import current_trace_id
from paykit.testing import running_app
from prometheus_client import REGISTRY


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _app(**settings: object) -> tuple[FastAPI, asyncio.Event]:
    release = asyncio.Event()
    app = create_service_app(ServiceSettings(service_name="probe", **settings), title="Probe")

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @app.get("/budget")
    async def budget() -> dict[str, float | None]:
        return {"remaining_s": deadline.remaining_s()}

    return app, release


async def test_a_spent_deadline_is_refused_and_a_live_one_is_known_to_the_route() -> None:
    app, _ = _app()
    shed_before = _sample("http_requests_shed_total", service="probe", reason="deadline")
    async with running_app(app) as client:
        late = await client.get("/budget", headers={"X-Request-Timeout-Ms": "0"})
        assert late.status_code == 503 and late.json()["code"] == "DEADLINE_EXCEEDED"
        assert late.headers["Retry-After"] == "1"
        live = await client.get("/budget", headers={"X-Request-Timeout-Ms": "3000"})
        assert live.status_code == 200 and 0 < live.json()["remaining_s"] <= 3
        assert (await client.get("/budget")).json()["remaining_s"] is None
        assert (await client.get("/health", headers={"X-Request-Timeout-Ms": "0"})).status_code == 200
        assert "http_requests_shed_total" in (await client.get("/metrics")).text
    assert _sample("http_requests_shed_total", service="probe", reason="deadline") == shed_before + 1


async def test_past_capacity_the_excess_is_shed_with_503_and_retry_after() -> None:
    app, release = _app(in_flight_max=2, admission_queue_max=1, admission_wait_ms=50)
    async with running_app(app) as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        await asyncio.sleep(0.05)
        shed = await asyncio.gather(*(client.get("/slow") for _ in range(3)))
        assert [r.status_code for r in shed] == [503, 503, 503]
        assert all(r.json()["code"] == "OVERLOADED" and r.headers["Retry-After"] == "1" for r in shed)
        assert (await client.get("/ready")).status_code == 200, "operational routes are never shed"
        assert _sample("http_requests_in_flight", service="probe") == 2
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert (await client.get("/slow")).status_code == 200, "served again once capacity frees"


async def test_the_client_forwards_what_is_left_and_refuses_once_it_is_spent() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    client = ServiceClient("svc", "http://svc", transport=transport)
    token = deadline.start(2000)
    try:
        await client.call("GET", "/x")
        assert 0 < int(seen[-1].headers["x-request-timeout-ms"]) <= 2000
    finally:
        deadline.reset(token)
    token = deadline.start(0)
    try:
        with pytest.raises(ServiceUnavailable, match="deadline"):
            await client.call("GET", "/x")
        assert len(seen) == 1, "nothing is sent for a caller that has given up"
    finally:
        deadline.reset(token)
    await client.aclose()


async def test_every_503_says_when_to_come_back() -> None:
    from paykit.errors import ProblemError

    app, _ = _app()

    @app.get("/busy")
    async def busy() -> None:
        raise ProblemError(503, "RISK_SERVICE_UNAVAILABLE", "Risk cannot be assessed now; retry")

    async with running_app(app) as client:
        response = await client.get("/busy")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"


async def test_a_hop_continues_the_callers_trace_and_starts_one_without_it() -> None:
    # The downstream call a route makes carries the caller's trace id (logs and events of
    # one payment share one trace), with or without spans being exported.
    seen: list[httpx.Request] = []

    def downstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    app, _ = _app()
    client = ServiceClient("next", "http://next", transport=httpx.MockTransport(downstream))

    @app.get("/onward")
    async def onward() -> dict[str, str | None]:
        await client.call("GET", "/x")
        return {"trace_id": current_trace_id()}

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with running_app(app) as caller:
        continued = await caller.get("/onward", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        started = await caller.get("/onward")
    await client.aclose()
    assert continued.json()["trace_id"] == trace_id
    assert seen[0].headers["traceparent"].split("-")[1] == trace_id
    assert seen[0].headers["traceparent"].split("-")[2] != "00f067aa0ba902b7", "a span id of the hop's own"
    new_id = started.json()["trace_id"]
    assert new_id and new_id not in ("0" * 32, trace_id)
    assert seen[1].headers["traceparent"].split("-")[1] == new_id
