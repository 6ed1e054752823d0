"""Wiring of the otp service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api


class OtpSettings(ServiceSettings):
    service_name: str = "otp"
    port: int = 3006


def create_app(settings: OtpSettings | None = None) -> FastAPI:
    settings = settings or OtpSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, use_redis=True):
            yield

    app = create_service_app(
        settings,
        title="OTP Service",
        description="One-time passwords bound to a payment, stored hashed in Redis.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
