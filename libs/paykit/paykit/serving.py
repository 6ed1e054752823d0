"""What happens to every request before and after its route, as one pure ASGI middleware.

Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) costs a task group and a pair of
memory streams per request and per layer; the fleet's profile showed it on the money path.
This one does, in one pass over the headers:

- metrics: in-flight gauge, request counter and latency histogram by route template;
- admission control: at most `in_flight_max` requests served at once, a bounded queue that
  waits at most `admission_wait_ms`, and past that a fast 503 `OVERLOADED` with `Retry-After`
  (never a hung request, never a 500);
- deadlines: `X-Request-Timeout-Ms` (or the service's default budget) becomes the request's
  deadline; a request whose budget is already spent is refused with 503 `DEADLINE_EXCEEDED`;
- correlation ids (X-Correlation-ID, else nginx's X-Request-ID, else a new one), echoed back;
- the trace context (`traceparent`) while spans are not exported (`telemetry.request_context`);
- the body-size limit on the declared Content-Length (413).

Operational routes (/health, /ready, /metrics) are never shed nor refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import deadline, telemetry
from .context import clean_header_id, correlation_id_var
from .errors import problem_response
from .metrics import HTTP_DURATION, HTTP_ERRORS, HTTP_IN_FLIGHT, HTTP_REQUESTS, HTTP_SHED

OPERATIONAL_PATHS = frozenset({"/health", "/ready", "/metrics"})
RETRY_AFTER_S = 1
_CORRELATION = b"x-correlation-id"
_REQUEST_ID = b"x-request-id"
_LENGTH = b"content-length"
_DEADLINE = deadline.DEADLINE_HEADER.lower().encode()
_TRACEPARENT = b"traceparent"
_TRACESTATE = b"tracestate"
_WANTED = frozenset({_CORRELATION, _REQUEST_ID, _LENGTH, _DEADLINE, _TRACEPARENT, _TRACESTATE})


@dataclass(frozen=True)
class ServingLimits:
    body_bytes_max: int
    # 0: no default deadline (the caller's header still counts).
    budget_ms_default: int = 0
    # 0: admission control off.
    in_flight_max: int = 0
    queue_max: int = 0
    wait_ms: int = 50


class Admission:
    """Bounded concurrency with a bounded, short queue in front of it."""

    def __init__(self, in_flight_max: int, queue_max: int, wait_ms: int) -> None:
        self._slots = asyncio.Semaphore(in_flight_max)
        self._queue_max = queue_max
        self._wait_s = wait_ms / 1000
        self.waiting = 0

    async def enter(self) -> bool:
        """True when the request may be served; the caller must `leave()` afterwards."""
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns at once
            return True
        if self.waiting >= self._queue_max:
            return False
        wait_s = deadline.cap_timeout_s(self._wait_s)
        if wait_s <= 0:
            return False
        self.waiting += 1
        try:
            async with asyncio.timeout(wait_s):
                await self._slots.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1

    def leave(self) -> None:
        self._slots.release()


class ServingMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, limits: ServingLimits) -> None:
        self.app = app
        self.service = service
        self.limits = limits
        self.admission = (
            Admission(limits.in_flight_max, limits.queue_max, limits.wait_ms)
            if limits.in_flight_max > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        correlation = ""

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_CORRELATION, correlation.encode())]
            await send(message)

        headers = _wanted_headers(scope)
        correlation = (
            clean_header_id(headers.get(_CORRELATION))
            or clean_header_id(headers.get(_REQUEST_ID))
            or str(uuid.uuid4())
        )
        operational = scope["path"] in OPERATIONAL_PATHS
        budget_ms = None if operational else deadline.parse_budget_ms(headers.get(_DEADLINE))
        if budget_ms is None and not operational and self.limits.budget_ms_default:
            budget_ms = self.limits.budget_ms_default
        context = correlation_id_var.set(correlation)
        deadline_token = deadline.start(budget_ms)
        trace_token = telemetry.request_context(headers.get(_TRACEPARENT), headers.get(_TRACESTATE))
        admitted = False
        try:
            refusal = self._refusal(headers, budget_ms)
            if refusal is None and self.admission is not None and not operational:
                admitted = await self.admission.enter()
                if not admitted:
                    refusal = (503, "OVERLOADED", "The service is at capacity; retry shortly", "overload")
            if refusal is not None:
                await self._refuse(scope, receive, send_wrapper, *refusal)
                return
            HTTP_IN_FLIGHT.labels(self.service).inc()
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                HTTP_IN_FLIGHT.labels(self.service).dec()
        finally:
            if admitted and self.admission is not None:
                self.admission.leave()
            telemetry.end_request_context(trace_token)
            deadline.reset(deadline_token)
            correlation_id_var.reset(context)
            self._observe(scope, status, time.perf_counter() - started)

    def _refusal(self, headers: dict[bytes, str], budget_ms: int | None) -> tuple[int, str, str, str] | None:
        declared = headers.get(_LENGTH)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limits.body_bytes_max):
            return 413, "PAYLOAD_TOO_LARGE", f"Body larger than {self.limits.body_bytes_max} bytes", ""
        if budget_ms is not None and budget_ms <= 0:
            return 503, "DEADLINE_EXCEEDED", "The caller's deadline has passed; nothing was done", "deadline"
        return None

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str, reason: str
    ) -> None:
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
        if reason:
            HTTP_SHED.labels(self.service, reason).inc()
        response = problem_response(status, code, detail, scope["path"], headers=headers)
        await response(scope, receive, send)

    def _observe(self, scope: Scope, status: int, elapsed_s: float) -> None:
        route = _route_template(scope)
        method = scope["method"]
        HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
        HTTP_DURATION.labels(self.service, method, route).observe(elapsed_s)
        if status >= 500:
            HTTP_ERRORS.labels(self.service, method, route).inc()


def _wanted_headers(scope: Scope) -> dict[bytes, str]:
    wanted = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            wanted[name] = value.decode("latin-1")
    return wanted


def _route_template(scope: Scope) -> str:
    # The template, not the raw path, keeps label cardinality bounded. FastAPI leaves the
    # matched route in the scope; requests refused before routing are matched here.
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"
