"""With an exporter configured, a request served by a paykit app and the calls it makes are
spans of one trace (the instrumentation is installed once spans are exported)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from paykit.config import ServiceSettings
from paykit.http import ServiceClient
from paykit.service import create_service_app
from paykit.testing import fleet_identity, served_over_loopback


@pytest.fixture
async def traced_url(span_exporter: InMemorySpanExporter) -> AsyncIterator[str]:
    app = create_service_app(ServiceSettings(service_name="account"), title="Probe")

    @app.get("/probe")
    async def probe() -> dict[str, bool]:
        return {"ok": True}

    async with served_over_loopback(app) as url:
        yield url


async def test_a_call_and_the_request_it_makes_are_spans_of_the_callers_trace(
    traced_url: str, span_exporter: InMemorySpanExporter
) -> None:
    client = ServiceClient("account", traced_url, identity=fleet_identity("confirm"))
    span_exporter.clear()
    try:
        with trace.get_tracer("test").start_as_current_span("payment") as origin:
            assert (await client.call("GET", "/probe")).status_code == 200
    finally:
        await client.aclose()
    trace_id = origin.get_span_context().trace_id
    spans = [s for s in span_exporter.get_finished_spans() if s.context.trace_id == trace_id]
    kinds = {s.kind for s in spans}
    assert SpanKind.CLIENT in kinds and SpanKind.SERVER in kinds, [(s.name, s.kind) for s in spans]
