"""Wiring of the partner_bank service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class PartnerBankSettings(ServiceSettings):
    service_name: str = "partner_bank"
    port: int = 3011


def create_app(settings: PartnerBankSettings | None = None) -> FastAPI:
    settings = settings or PartnerBankSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings,
        title="Partner Bank API",
        description="The simulated sponsor bank: the bank of record.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
