"""Wiring of the kyc service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class KycSettings(ServiceSettings):
    service_name: str = "kyc"
    port: int = 3010


def create_app(settings: KycSettings | None = None) -> FastAPI:
    settings = settings or KycSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings, title="KYC Service", description="KYC records, tiers and limits.", lifespan=lifespan
    )
    app.include_router(api.router)
    return app
