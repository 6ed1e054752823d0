"""Wiring of the account service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class AccountSettings(ServiceSettings):
    service_name: str = "account"
    port: int = 3007


def create_app(settings: AccountSettings | None = None) -> FastAPI:
    settings = settings or AccountSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS):
            yield

    app = create_service_app(
        settings,
        title="Account Service",
        description="Customers, accounts, double-entry ledger and holds.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
