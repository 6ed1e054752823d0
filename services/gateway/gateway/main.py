"""Wiring of the gateway service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 3000


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS, use_redis=True):
            yield

    app = create_service_app(
        settings,
        title="API Gateway",
        description="Public entry point: auth, rate limits, JWE, proxy to confirm.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
