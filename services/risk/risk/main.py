"""Wiring of the risk service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RiskSettings(ServiceSettings):
    service_name: str = "risk"
    port: int = 3004


def create_app(settings: RiskSettings | None = None) -> FastAPI:
    settings = settings or RiskSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings,
        title="Risk Service",
        description="Risk decisions from rules as data, velocity, OFAC and KYC.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
