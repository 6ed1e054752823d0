"""Wiring of the kyc service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.events import OutboxRelay, run_in_background, transport_from_settings
from paykit.marks import open_marks
from paykit.resources import open_resources
from pydantic import Field, SecretStr

from . import api
from .clients import OfacClient
from .usecases import Policy

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class KycSettings(ServiceSettings):
    service_name: str = "kyc"
    port: int = 3010
    ofac_timeout_s: float = 2.0
    kyc_reviewer_token: SecretStr = SecretStr("dev-only-secret-change-me")
    # Key of the HMAC fingerprint of document numbers (spots reuse without storing them).
    kyc_document_key: SecretStr = SecretStr("dev-only-secret-change-me")
    # Countries under comprehensive U.S. sanctions (ISO 3166-1 alpha-2).
    kyc_sanctioned_countries: list[str] = Field(default_factory=lambda: ["CU", "IR", "KP", "SY"])
    # Publish the outbox from this process (off in tests that only read the outbox table).
    kyc_outbox_relay: bool = True

    def secrets_to_check(self) -> dict[str, str]:
        return {
            **super().secrets_to_check(),
            "KYC_REVIEWER_TOKEN": self.kyc_reviewer_token.get_secret_value(),
            "KYC_DOCUMENT_KEY": self.kyc_document_key.get_secret_value(),
        }


def create_app(
    settings: KycSettings | None = None, *, ofac_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or KycSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ofac = OfacClient(
            settings.ofac_service_url,
            timeout_s=settings.ofac_timeout_s,
            transport=ofac_transport,
            identity=app.state.identity,
        )
        app.state.ofac = ofac
        try:
            async with (
                open_resources(app, settings, migrations_dir=MIGRATIONS) as resources,
                open_marks(settings) as marks,
            ):
                app.state.marks = marks
                if not settings.kyc_outbox_relay:
                    yield
                    return
                transport = transport_from_settings(settings)
                relay = OutboxRelay(
                    resources.require_pool(),
                    transport,
                    batch_size_max=settings.events_batch_size_max,
                    poll_interval_s=settings.events_poll_interval_ms / 1000,
                )
                try:
                    async with run_in_background(relay, app=app, transport=transport):
                        yield
                finally:
                    await transport.aclose()
        finally:
            await ofac.aclose()

    app = create_service_app(
        settings, title="KYC Service", description="KYC records, tiers and limits.", lifespan=lifespan
    )
    app.state.marks = None  # set by the lifespan when REDIS_URL is given
    app.state.policy = Policy(
        sanctioned_countries=frozenset(c.upper() for c in settings.kyc_sanctioned_countries),
        document_key=settings.kyc_document_key.get_secret_value().encode(),
    )
    app.state.reviewer_token = settings.kyc_reviewer_token.get_secret_value()
    app.include_router(api.router)
    return app
