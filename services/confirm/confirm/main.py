"""Wiring of the confirm service: settings, clients, the outbox relay and the resolver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.events import OutboxRelay, run_in_background, transport_from_settings
from paykit.http import ServiceClient
from paykit.idempotency import IdempotencyStore
from paykit.resources import open_resources

from . import api
from .clients import AccountClient, BankClient, OtpClient, RiskClient
from .usecases import Deps, Limits
from .worker import PaymentResolver

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class ConfirmSettings(ServiceSettings):
    service_name: str = "confirm"
    port: int = 3003
    risk_timeout_s: float = 5.0
    otp_timeout_s: float = 3.0
    account_timeout_s: float = 3.0
    bank_timeout_s: float = 5.0
    resolver_interval_s: float = 2.0
    resolver_older_than_s: float = 1.0
    idempotency_lease_s: int = 60
    # Holds: the bank's window, and the short one of a payment that waited on a person.
    hold_expiry_s: int = 7 * 24 * 3600
    hold_wait_expiry_s: int = 15 * 60
    # REQUIRES_OTP / UNDER_REVIEW payments expire (FAILED, PAYMENT_EXPIRED) after this.
    payment_wait_expiry_s: float = 15 * 60
    payment_lease_s: float = 30.0


def create_app(
    settings: ConfirmSettings | None = None,
    transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """`transports` lets tests route a downstream service to its real app in-process."""
    settings = settings or ConfirmSettings()
    transports = transports or {}

    def client(app: FastAPI, name: str, url: str, timeout_s: float, retries_max: int = 2) -> ServiceClient:
        return ServiceClient(
            name,
            url,
            timeout_s=timeout_s,
            retries_max=retries_max,
            transport=transports.get(name),
            identity=app.state.identity,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS) as resources:
            pool = resources.require_pool()
            clients = {
                "account": client(app, "account", settings.account_service_url, settings.account_timeout_s),
                "risk": client(app, "risk", settings.risk_service_url, settings.risk_timeout_s),
                "otp": client(app, "otp", settings.otp_service_url, settings.otp_timeout_s, retries_max=0),
                "partner_bank": client(
                    app, "partner_bank", settings.partner_bank_api_url, settings.bank_timeout_s, 1
                ),
            }
            deps = Deps(
                pool=pool,
                account=AccountClient(clients["account"]),
                risk=RiskClient(clients["risk"]),
                otp=OtpClient(clients["otp"]),
                bank=BankClient(clients["partner_bank"]),
                limits=Limits(
                    hold_expiry_s=settings.hold_expiry_s,
                    hold_wait_expiry_s=settings.hold_wait_expiry_s,
                    payment_wait_expiry_s=settings.payment_wait_expiry_s,
                    lease_s=settings.payment_lease_s,
                ),
            )
            idempotency = IdempotencyStore(pool, lease_s=settings.idempotency_lease_s)
            app.state.deps = deps
            app.state.idempotency = idempotency
            resolver = PaymentResolver(
                deps,
                idempotency,
                interval_s=settings.resolver_interval_s,
                older_than_s=settings.resolver_older_than_s,
            )
            app.state.resolver = resolver
            transport = transport_from_settings(settings)
            relay = OutboxRelay(pool, transport, batch_size_max=settings.events_batch_size_max)
            try:
                async with run_in_background(relay, resolver, app=app, transport=transport):
                    yield
            finally:
                await transport.aclose()
                await asyncio.gather(*(c.aclose() for c in clients.values()))

    app = create_service_app(
        settings,
        title="Confirm Service",
        description="Payment state machine, idempotency, outbox.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
