"""Wiring of the notification service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    port: int = 3005


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings,
        title="Notification Service",
        description="SMS/email/push delivery and the dev inbox.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
