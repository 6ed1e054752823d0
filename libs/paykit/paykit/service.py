"""The FastAPI app every service starts from: logs, traces, metrics, problem+json errors,
correlation ids, body-size limit, deadlines, admission control, the request guard (`guard.py`),
`/health` and `/ready`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from . import guard
from .config import ServiceSettings
from .errors import install_error_handlers, problem_response
from .identity import JWKS_PATH, identity_from_settings
from .logs import configure_logging
from .metrics import install_metrics
from .openapi import install_openapi
from .serving import ServingLimits, ServingMiddleware
from .telemetry import configure_tracing, instrument_app

log = logging.getLogger("paykit.service")
ReadinessCheck = Callable[[], Awaitable[bool]]
BODY_BYTES_MAX = 64 * 1024
READY_CHECK_TIMEOUT_S = 2.0


class Readiness:
    """Named checks of the service's own dependencies (postgres, redis, broker...)."""

    def __init__(self) -> None:
        self.checks: dict[str, ReadinessCheck] = {}
        # Facts an operator wants beside up/down (e.g. how old a loaded list is).
        self.details: dict[str, Callable[[], object]] = {}

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    def add_detail(self, name: str, detail: Callable[[], object]) -> None:
        self.details[name] = detail

    def describe(self) -> dict[str, object]:
        return {name: detail() for name, detail in self.details.items()}

    async def run(self) -> dict[str, str]:
        async def one(check: ReadinessCheck) -> str:
            try:
                async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
                    return "up" if await check() else "down"
            except Exception:
                return "down"

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str = "",
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    body_bytes_max: int = BODY_BYTES_MAX,
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    instance = settings.instance_id or f"{settings.service_name}-{uuid.uuid4().hex[:6]}"

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry layer stays off: server spans come from the
        # instrumentation while spans are exported, and otherwise the serving middleware
        # carries the trace context at a fraction of the cost (telemetry.request_context).
        # Metrics are prometheus_client's (metrics.py), logs our JSON lines (logs.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # Built before anything serves: a service without usable keys does not start.
    app.state.identity = identity_from_settings(
        settings.service_name,
        signing_key=settings.service_signing_key.get_secret_value(),
        public_keys=settings.service_public_keys,
        dev_seed=settings.service_identity_dev_seed.get_secret_value(),
        production=settings.is_production,
        ttl_s=settings.service_token_ttl_s,
    )
    app.state.readiness = Readiness()
    # Reported by /health as the seed's gateway does, without changing its answer: liveness
    # must not fail because a neighbour is down (that is what /ready is for).
    app.state.health_dependencies = Readiness()
    app.state.instance = instance
    install_error_handlers(app)
    install_openapi(app)
    install_metrics(app, settings.service_name)
    # Inside the serving middleware, so its refusals are counted like any other answer.
    app.add_middleware(guard.GuardMiddleware, body_bytes_max=body_bytes_max)
    # Outermost but for tracing: refused requests cost no span and no route work.
    app.add_middleware(
        ServingMiddleware,
        service=settings.service_name,
        limits=ServingLimits(
            body_bytes_max=body_bytes_max,
            budget_ms_default=settings.request_budget_ms_default,
            in_flight_max=settings.in_flight_max,
            queue_max=settings.admission_queue_max,
            wait_ms=settings.admission_wait_ms,
        ),
    )
    instrument_app(app)

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "status": "healthy",
            "service": settings.service_name,
            "instance": instance,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        reported: Readiness = request.app.state.health_dependencies
        if reported.checks:
            states = await reported.run()
            answer["dependencies"] = {n: "healthy" if s == "up" else "unhealthy" for n, s in states.items()}
        return answer

    @app.get(JWKS_PATH, tags=["ops"], summary="This service's public key for its service tokens")
    async def service_jwks(request: Request) -> JSONResponse:
        return JSONResponse(
            request.app.state.identity.jwks(), headers={"Cache-Control": "public, max-age=300"}
        )

    @app.get("/ready", tags=["ops"])
    async def ready(request: Request) -> Response:
        readiness: Readiness = request.app.state.readiness
        checks = await readiness.run()
        details: dict[str, Any] = {"details": readiness.describe()} if readiness.details else {}
        down = sorted(name for name, state in checks.items() if state != "up")
        if down:
            detail = f"Dependencies down: {', '.join(down)}"
            return problem_response(503, "NOT_READY", detail, "/ready", None, checks=checks, **details)
        return JSONResponse(
            {"status": "ready", "service": settings.service_name, "checks": checks, **details}
        )

    return app
