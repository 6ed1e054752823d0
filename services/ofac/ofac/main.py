"""Wiring of the ofac service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api


class OfacSettings(ServiceSettings):
    service_name: str = "ofac"
    port: int = 3009


def create_app(settings: OfacSettings | None = None) -> FastAPI:
    settings = settings or OfacSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings):
            yield

    app = create_service_app(
        settings,
        title="OFAC Service",
        description="Sanctions screening against the OFAC SDN list.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
