"""Wiring of the account service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources

from . import api, worker
from .clients import ConfirmClient, PartnerBankClient
from .reconciliation import ReconciliationLimits

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class AccountSettings(ServiceSettings):
    service_name: str = "account"
    port: int = 3007

    hold_ttl_default_s: int = 15 * 60
    hold_ttl_max_s: int = 7 * 24 * 3600
    # 0 disables a background loop (tests drive the steps themselves).
    hold_sweep_interval_s: float = 5.0
    hold_sweep_batch_size_max: int = 100
    entries_page_size_max: int = 200

    reconciliation_interval_s: float = 300.0
    reconciliation_page_size: int = 200
    reconciliation_pages_max: int = 500
    reconciliation_stale_hold_after_s: int = 24 * 3600
    # Both sides are compared up to now minus this window: payments in flight are no break.
    reconciliation_grace_s: float = 60.0
    # Also compare confirm's payment states with the bank's transfers.
    reconciliation_compare_payments: bool = True
    confirm_timeout_s: float = 3.0
    partner_bank_timeout_s: float = 3.0
    partner_bank_retries_max: int = 2

    def reconciliation_limits(self) -> ReconciliationLimits:
        return ReconciliationLimits(
            page_size=self.reconciliation_page_size,
            pages_max=self.reconciliation_pages_max,
            stale_hold_after_s=self.reconciliation_stale_hold_after_s,
            grace_s=self.reconciliation_grace_s,
        )


def create_app(
    settings: AccountSettings | None = None,
    *,
    bank_transport: httpx.AsyncBaseTransport | None = None,
    confirm_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`bank_transport` / `confirm_transport` let tests put the partner bank's and confirm's
    apps (or fakes) behind the clients."""
    settings = settings or AccountSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=MIGRATIONS) as resources:
            pool = resources.require_pool()
            bank = PartnerBankClient(
                "partner_bank",
                settings.partner_bank_api_url,
                timeout_s=settings.partner_bank_timeout_s,
                retries_max=settings.partner_bank_retries_max,
                transport=bank_transport,
                identity=app.state.identity,
            )
            app.state.bank = bank
            confirm = (
                ConfirmClient(
                    "confirm",
                    settings.confirm_service_url,
                    timeout_s=settings.confirm_timeout_s,
                    transport=confirm_transport,
                    identity=app.state.identity,
                )
                if settings.reconciliation_compare_payments
                else None
            )
            app.state.confirm = confirm
            app.state.reconciliation_limits = settings.reconciliation_limits()
            tasks = []
            if settings.hold_sweep_interval_s > 0:
                tasks.append(
                    worker.start_sweeper(
                        pool, settings.hold_sweep_interval_s, settings.hold_sweep_batch_size_max
                    )
                )
            if settings.reconciliation_interval_s > 0:
                tasks.append(
                    worker.start_reconciler(
                        pool,
                        bank,
                        settings.reconciliation_interval_s,
                        settings.reconciliation_limits(),
                        confirm,
                    )
                )
            try:
                yield
            finally:
                await worker.stop(tasks)
                await bank.aclose()
                if confirm is not None:
                    await confirm.aclose()

    app = create_service_app(
        settings,
        title="Account Service",
        description="Customers, accounts, double-entry ledger and holds.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
