"""Wiring of the partner_bank service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources
from pydantic import Field, model_validator

from . import api, usecases
from .domain import BankPolicy, parse_fault_schedule

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class PartnerBankSettings(ServiceSettings):
    service_name: str = "partner_bank"
    port: int = 3011

    # Seed rule `amount < 50000`: at or over 50,000.00 a transfer is REJECTED.
    transfer_limit_minor: Annotated[int, Field(gt=0)] = 5_000_000
    # Reported on completed transfers like the seed's 2.50; billed to the program, not debited.
    processing_fee_minor: Annotated[int, Field(ge=0)] = 250
    settlement_delay_s: Annotated[int, Field(ge=0)] = 86_400
    # Added to every process-transfer call (the seed slept 1 s).
    bank_latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    # Faults loaded at start-up in place of the stored schedule, e.g.
    # `error_5xx:2,timeout_after_execute:1:3000` (see domain.parse_fault_schedule).
    bank_fault_schedule: str = ""
    transfers_page_size_max: Annotated[int, Field(ge=1, le=5_000)] = 500
    balances_page_size_max: Annotated[int, Field(ge=1, le=5_000)] = 500

    @model_validator(mode="after")
    def _check_fault_schedule(self) -> PartnerBankSettings:
        if self.bank_fault_schedule.strip() and self.is_production:
            raise ValueError("BANK_FAULT_SCHEDULE is for tests and drills; refused in production")
        parse_fault_schedule(self.bank_fault_schedule)
        return self

    def policy(self) -> BankPolicy:
        return BankPolicy(
            transfer_limit_minor=self.transfer_limit_minor,
            processing_fee_minor=self.processing_fee_minor,
            base_latency_ms=self.bank_latency_ms,
            settlement_delay_s=self.settlement_delay_s,
        )


def create_app(settings: PartnerBankSettings | None = None) -> FastAPI:
    settings = settings or PartnerBankSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS) as resources:
            if settings.bank_fault_schedule.strip():
                faults = parse_fault_schedule(settings.bank_fault_schedule)
                await usecases.replace_faults(resources.require_pool(), faults)
            yield

    app = create_service_app(
        settings,
        title="Partner Bank API",
        description="The simulated sponsor bank: the bank of record.",
        lifespan=lifespan,
    )
    app.state.policy = settings.policy()
    app.include_router(api.router)
    if not settings.is_production:
        app.include_router(api.admin_router)
    return app
