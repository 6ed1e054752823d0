"""Wiring of the ofac service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.http import ServiceClient
from paykit.resources import open_resources
from pydantic import Field, SecretStr

from . import api
from .clients import AccountClient
from .domain import Thresholds
from .lists import ListHolder, SourceLimits
from .usecases import ScreeningPolicy

# The list that ships with the service (an old snapshot: development and tests only).
BUNDLED_LIST = Path(__file__).resolve().parent.parent / "data" / "sdn-2021-07"


class OfacSettings(ServiceSettings):
    service_name: str = "ofac"
    port: int = 3009
    # A directory with sdn.csv (+ add/alt/sdn_comments.csv) or a base URL serving them.
    ofac_list_source: str = ""
    ofac_block_threshold: float = 0.92
    ofac_review_threshold: float = 0.85
    # Review threshold for listed names made only of common name parts (never below review).
    ofac_review_common_threshold: float = 0.95
    ofac_matches_max: int = 10
    ofac_download_timeout_s: float = 60.0
    ofac_file_bytes_max: int = 64 * 1024 * 1024
    ofac_admin_token: SecretStr = SecretStr("dev-only-secret-change-me")
    # The seed's internal blocklist of customer ids, kept blocked whatever their name.
    account_timeout_s: float = 2.0
    ofac_internal_blocklist: list[str] = Field(
        default_factory=lambda: ["BLOCKED_CUSTOMER_001", "SANCTIONED_ENTITY_002"]
    )

    @property
    def list_source(self) -> str:
        return self.ofac_list_source or str(BUNDLED_LIST)

    def secrets_to_check(self) -> dict[str, str]:
        return {**super().secrets_to_check(), "OFAC_ADMIN_TOKEN": self.ofac_admin_token.get_secret_value()}


def create_app(
    settings: OfacSettings | None = None,
    *,
    list_transport: httpx.AsyncBaseTransport | None = None,
    account_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`list_transport` lets tests serve a list "URL" from memory; `account_transport` puts
    the account service (for id-only screenings) behind the client."""
    settings = settings or OfacSettings()
    holder = ListHolder(
        SourceLimits(settings.ofac_download_timeout_s, settings.ofac_file_bytes_max), transport=list_transport
    )
    policy = ScreeningPolicy(
        thresholds=Thresholds(
            block=settings.ofac_block_threshold,
            review=settings.ofac_review_threshold,
            review_common=max(settings.ofac_review_common_threshold, settings.ofac_review_threshold),
        ),
        blocklist=frozenset(settings.ofac_internal_blocklist),
        matches_max=settings.ofac_matches_max,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings):
            # No list, no service: screening must never answer "clear" without one.
            await holder.load(settings.list_source)

            async def list_loaded() -> bool:
                return holder.loaded

            app.state.readiness.add("sanctions_list", list_loaded)
            accounts = ServiceClient(
                "account",
                settings.account_service_url,
                timeout_s=settings.account_timeout_s,
                transport=account_transport,
            )
            app.state.accounts = AccountClient(accounts)
            try:
                yield
            finally:
                await accounts.aclose()

    app = create_service_app(
        settings,
        title="OFAC Service",
        description="Sanctions screening against the OFAC SDN list.",
        lifespan=lifespan,
    )
    app.state.lists = holder
    app.state.policy = policy
    app.state.list_source = settings.list_source
    app.state.admin_token = settings.ofac_admin_token.get_secret_value()
    app.include_router(api.router)
    return app
