"""Prometheus metrics every service exposes on `/metrics`.

Names (dashboards and alert rules depend on them; change them only together):
- `http_requests_total{service,method,route,status}`: requests answered, by route template;
- `http_request_errors_total{service,method,route}`: requests answered with a 5xx;
- `http_request_duration_seconds{service,method,route}`: latency histogram;
- `http_requests_in_flight{service}`: requests being served right now;
- `http_requests_shed_total{service,reason}`: requests refused before any work, by reason:
  `overload` (admission control), `deadline` (the caller's budget was spent),
  `dependency` (a guard such as the rate limiter could not be consulted).
Services add business metrics of their own (confirm's `payments_total{state}` is the payment
funnel: REQUIRES_CONFIRMATION = created, FUNDS_HELD = held, COMPLETED / FAILED / DECLINED).
The middleware that feeds the HTTP metrics is `paykit.serving`.
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_ERRORS = Counter(
    "http_request_errors_total", "HTTP requests answered with a 5xx", ["service", "method", "route"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being served now", ["service"])
HTTP_SHED = Counter(
    "http_requests_shed_total",
    "HTTP requests refused before any work (overload, spent deadline, guard unavailable)",
    ["service", "reason"],
)
SHED_REASONS = ("overload", "deadline", "dependency")


def install_metrics(app: FastAPI, service: str) -> None:
    # Zero series exist from the start, so rate() and alerts see them before the first event.
    HTTP_IN_FLIGHT.labels(service)
    for reason in SHED_REASONS:
        HTTP_SHED.labels(service, reason)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
