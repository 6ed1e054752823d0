"""Wiring of the risk service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.http import ServiceClient
from paykit.identity import ServiceIdentity
from paykit.marks import open_marks
from paykit.resources import open_resources

from . import api
from .cache import Caches
from .clients import AccountClient, KycClient, OfacClient
from .rules import load_rules
from .usecases import Clients, RiskService

ClientT = TypeVar("ClientT", bound=ServiceClient)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RiskSettings(ServiceSettings):
    service_name: str = "risk"
    port: int = 3004
    # Empty: the packaged rules (risk/rules/v1.yaml).
    risk_rules_file: str = ""
    # Short on purpose: a payment waits for these. A call that does not answer in time
    # follows the rules file's failure policy.
    account_timeout_ms: int = 1_000
    ofac_timeout_ms: int = 1_500
    kyc_timeout_ms: int = 1_000
    # All checks of one assessment, retries included; under the callers' own timeouts (5 s).
    checks_deadline_ms: int = 3_000
    # Only the customer lookup (a GET) is retried; the checks are POSTs.
    dependency_retries_max: int = 1
    dependency_breaker_threshold: int = 5
    dependency_breaker_ttl_s: float = 15.0
    # Answers kept between payments (risk/cache.py): customer details (name, country) for
    # `lookup_cache_ttl_s`, KYC status and limits for `kyc_cache_ttl_s`, a screening for
    # `screening_cache_ttl_s`; 0 turns a cache off. KYC and screening answers are kept only
    # with REDIS_URL (the Redis kyc and ofac write their change marks to, paykit.marks) and
    # used only while their mark stands: a customer held or newly listed is seen at once.
    cache_entries_max: int = 10_000
    lookup_cache_ttl_s: float = 30.0
    kyc_cache_ttl_s: float = 60.0
    screening_cache_ttl_s: float = 60.0


def build_clients(
    settings: RiskSettings,
    identity: ServiceIdentity,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> Clients:
    """`transports` ("account", "ofac", "kyc") lets tests talk to in-process apps."""
    transports = transports or {}

    def make(cls: type[ClientT], name: str, url: str, timeout_ms: int, retries_max: int) -> ClientT:
        return cls(
            name,
            url,
            timeout_s=timeout_ms / 1000,
            retries_max=retries_max,
            breaker_threshold=settings.dependency_breaker_threshold,
            breaker_ttl_s=settings.dependency_breaker_ttl_s,
            transport=transports.get(name),
            identity=identity,
        )

    return Clients(
        account=make(
            AccountClient,
            "account",
            settings.account_service_url,
            settings.account_timeout_ms,
            settings.dependency_retries_max,
        ),
        ofac=make(OfacClient, "ofac", settings.ofac_service_url, settings.ofac_timeout_ms, 0),
        kyc=make(KycClient, "kyc", settings.kyc_service_url, settings.kyc_timeout_ms, 0),
    )


def create_app(
    settings: RiskSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or RiskSettings()
    # Loaded (and checked) before anything starts: bad rules refuse to start the service.
    rules = load_rules(Path(settings.risk_rules_file) if settings.risk_rules_file else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_resources(app, settings, migrations_dir=MIGRATIONS) as resources,
            open_marks(settings) as marks,
        ):
            clients = build_clients(settings, app.state.identity, transports)
            app.state.risk = RiskService(
                resources.require_pool(),
                rules,
                clients,
                settings.checks_deadline_ms / 1000,
                Caches.build(
                    settings.cache_entries_max,
                    settings.lookup_cache_ttl_s,
                    settings.kyc_cache_ttl_s,
                    settings.screening_cache_ttl_s,
                    marks,
                ),
            )
            try:
                yield
            finally:
                await clients.aclose()

    app = create_service_app(
        settings,
        title="Risk Service",
        description="Risk decisions from rules as data, velocity, OFAC and KYC.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
