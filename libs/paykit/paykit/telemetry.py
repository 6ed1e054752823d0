"""OpenTelemetry wiring: one tracer provider per process, OTLP export when configured,
and instrumentation of FastAPI, httpx, asyncpg, redis and aiokafka while spans are exported.

Without an exporter nothing records spans, and the instrumentation wrappers are not installed
at all: even with spans sampled off, they cost a share of every request, query and call
(benchmarks/service_hop.py). The trace context still travels without them: the serving
middleware opens a request's context from its `traceparent` (`request_context`), and
`paykit.http` and the outbox inject it into what they send, so logs and events of one payment
share one trace id either way.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from contextvars import Token

import httpx
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, DEFAULT_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

log = logging.getLogger("paykit.telemetry")
_libraries_instrumented = False


class _WhenExported(Sampler):
    """Record spans only once something exports them.

    Without an OTLP endpoint (e.g. `make run` with no collector) nobody can ever see a span,
    yet recording one per HTTP call, query and Redis command cost a noticeable share of the
    money path's CPU (docs/benchmarks.md). Trace context still travels (trace ids in logs and
    headers stay valid); spans are just not recorded. The switch is flipped for the whole
    process as soon as an exporter is configured, whatever the order of calls."""

    exporting = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        sampler = DEFAULT_ON if self.exporting else ALWAYS_OFF
        return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "WhenExported"


_SAMPLER = _WhenExported()
_TRACE_CONTEXT = TraceContextTextMapPropagator()


def configure_tracing(
    service: str, otlp_endpoint: str = "", exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install the process-wide tracer provider once; later calls reuse it.

    `exporter` lets tests collect spans in memory; `otlp_endpoint` (OTEL_EXPORTER_OTLP_ENDPOINT)
    sends them to the collector over OTLP/HTTP.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=_SAMPLER)
        trace.set_tracer_provider(provider)
        if otlp_endpoint:
            _SAMPLER.exporting = True
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
    if exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        _SAMPLER.exporting = True
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if _SAMPLER.exporting:
        _instrument_libraries()
    return provider


def exporting() -> bool:
    """Whether spans are recorded and exported in this process."""
    return _SAMPLER.exporting


def _instrument_libraries() -> None:
    global _libraries_instrumented
    if _libraries_instrumented:
        return
    _libraries_instrumented = True
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        HTTPXClientInstrumentor(),
        AsyncPGInstrumentor(),  # type: ignore[no-untyped-call]
        RedisInstrumentor(),
        AIOKafkaInstrumentor(),
    ):
        try:
            instrumentor.instrument()
        except Exception:  # an instrumentation must never stop a payment service from starting
            log.warning("instrumentation %s failed", type(instrumentor).__name__, exc_info=True)


def traced_transport(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    """`transport` with a client span per call while spans are exported. httpx's instrumentation
    wraps only httpx's own transports; paykit's service transport is wrapped here instead."""
    if not _libraries_instrumented:
        return transport
    from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

    return AsyncOpenTelemetryTransport(transport)


def instrument_app(app: FastAPI) -> None:
    """Server spans for `app`'s requests, when spans are exported (configure tracing first)."""
    if not _SAMPLER.exporting:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready,metrics")


def request_context(traceparent: str | None, tracestate: str | None) -> Token[Context] | None:
    """Make the current context a request's, as the server span would when spans are exported:
    the caller's trace (a new one without a valid `traceparent`) and a span id of this hop's
    own. Returns the token for `end_request_context`; None (nothing done) while exporting,
    where the instrumentation opens a real span instead."""
    if _SAMPLER.exporting:
        return None
    parent = None
    if traceparent:
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        parent = trace.get_current_span(_TRACE_CONTEXT.extract(carrier)).get_span_context()
    if parent is not None and parent.is_valid:
        trace_id, trace_state = parent.trace_id, parent.trace_state
    else:
        trace_id, trace_state = random.getrandbits(128) or 1, None
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=trace_id,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
            trace_state=trace_state,
        )
    )
    return otel_context.attach(trace.set_span_in_context(span))


def end_request_context(token: Token[Context] | None) -> None:
    if token is not None:
        otel_context.detach(token)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(carrier: dict[str, str]) -> dict[str, str]:
    """Write the current W3C trace context (`traceparent`, `tracestate`) into `carrier`."""
    propagate.inject(carrier)
    return carrier


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
