"""Prometheus metrics: request rate, errors and duration per route, plus `/metrics`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.routing import Match

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


def _route_template(request: Request) -> str:
    # The template, not the raw path, keeps label cardinality bounded.
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        route = _route_template(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
            HTTP_DURATION.labels(service, request.method, route).observe(elapsed)
            if status >= 500:
                HTTP_ERRORS.labels(service, request.method, route).inc()

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
