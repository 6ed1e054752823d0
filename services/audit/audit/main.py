"""Wiring of the audit service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
    port: int = 3008


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings,
        title="Audit Service",
        description="Append-only audit log of every state change.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
