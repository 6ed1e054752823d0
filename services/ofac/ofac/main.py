"""Wiring of the ofac service: settings, lifespan, routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.config import InsecureSettingsError
from paykit.http import ServiceClient
from paykit.marks import open_marks
from paykit.resources import open_resources
from pydantic import Field, SecretStr, model_validator

from . import api, metrics, usecases
from .clients import AccountClient, KycClient
from .domain import Thresholds
from .lists import ListHolder, ListSpec, SourceLimits
from .rescreen import Rescreener
from .usecases import ScreeningPolicy

log = logging.getLogger("ofac.main")
# The list that ships with the service (an old snapshot: development and tests only).
BUNDLED_LIST = Path(__file__).resolve().parent.parent / "data" / "sdn-2021-07"


class OfacSettings(ServiceSettings):
    service_name: str = "ofac"
    port: int = 3009
    # The primary list: a directory with sdn.csv (+ add/alt/sdn_comments.csv) or a base URL
    # serving them (or, with OFAC_LIST_FORMAT, an SDN_ADVANCED.xml or FollowTheMoney file).
    ofac_list_source: str = ""
    ofac_list_format: Literal["ofac_csv", "ofac_cons_csv", "ofac_xml", "ftm"] = "ofac_csv"
    ofac_list_name: str = "OFAC_SDN"
    # More lists, each NAME=format:location, e.g.
    # OFAC_CONSOLIDATED=ofac_cons_csv:https://.../exports  UN_SC=ftm:https://.../entities.ftm.json
    ofac_extra_lists: list[str] = Field(default_factory=list)
    # Scheduled refresh of every list (0: only at start and through the reload route).
    ofac_refresh_interval_s: float = 6 * 3600
    # A list not confirmed for this long makes the service unready (risk then fails closed).
    ofac_list_stale_after_s: float = 3 * 24 * 3600
    # Refuse a new version with fewer than (1 - this) times the parties of the one in use.
    ofac_list_shrink_max: float = Field(default=0.2, ge=0, lt=1)
    # Re-screen every customer (account's list, paged) when a list gains or changes parties;
    # hits are recorded with KYC (reviewer queue) and stop the customer's payments.
    ofac_rescreen: bool = True
    ofac_rescreen_page_size: int = Field(default=200, ge=1, le=500)
    kyc_timeout_s: float = 5.0
    ofac_block_threshold: float = 0.92
    ofac_review_threshold: float = 0.85
    # Review threshold for listed names made only of common name parts (never below review).
    ofac_review_common_threshold: float = 0.93
    ofac_matches_max: int = 10
    ofac_download_timeout_s: float = 60.0
    ofac_file_bytes_max: int = 64 * 1024 * 1024
    ofac_admin_token: SecretStr = SecretStr("dev-only-secret-change-me")
    # Production screens against OFAC_LIST_SOURCE; the bundled 2021 snapshot only with this
    # explicit opt-in, logged at every start.
    ofac_allow_bundled_list: bool = False
    # Places besides the configured lists an admin reload may name (a mirror, a local copy);
    # a reload never fetches a location that only the request body names.
    ofac_reload_sources: list[str] = Field(default_factory=list)
    # The seed's internal blocklist of customer ids, kept blocked whatever their name.
    account_timeout_s: float = 2.0
    ofac_internal_blocklist: list[str] = Field(
        default_factory=lambda: ["BLOCKED_CUSTOMER_001", "SANCTIONED_ENTITY_002"]
    )

    @property
    def list_source(self) -> str:
        return self.ofac_list_source or str(BUNDLED_LIST)

    def list_specs(self) -> list[ListSpec]:
        primary = ListSpec(self.ofac_list_name, self.ofac_list_format, self.list_source)
        return [primary, *(ListSpec.parse(text) for text in self.ofac_extra_lists)]

    def secrets_to_check(self) -> dict[str, str]:
        return {**super().secrets_to_check(), "OFAC_ADMIN_TOKEN": self.ofac_admin_token.get_secret_value()}

    def reload_sources(self) -> frozenset[str]:
        """What a reload may name: the configured lists' places and OFAC_RELOAD_SOURCES."""
        return frozenset({spec.location for spec in self.list_specs()} | set(self.ofac_reload_sources))

    @model_validator(mode="after")
    def _lists_in_production(self) -> OfacSettings:
        if not self.is_production:
            return self
        if not self.ofac_list_source and not self.ofac_allow_bundled_list:
            raise InsecureSettingsError(
                "APP_ENV=production needs OFAC_LIST_SOURCE (the bundled 2021 snapshot is out of date; "
                "OFAC_ALLOW_BUNDLED_LIST=true uses it anyway)"
            )
        insecure = sorted(loc for loc in self.reload_sources() if loc.lower().startswith("http://"))
        if insecure:
            raise InsecureSettingsError(f"APP_ENV=production fetches lists over HTTPS only: {insecure}")
        return self


async def refresh_forever(holder: ListHolder, interval_s: float) -> None:
    """Fetch every list on a schedule; a failure keeps the last good list (counted, logged)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            metrics.count_failures(await holder.refresh())
        except Exception:  # a bug here must not stop the schedule; it is logged loudly
            log.exception("list refresh failed unexpectedly")


def create_app(
    settings: OfacSettings | None = None,
    *,
    list_transport: httpx.AsyncBaseTransport | None = None,
    account_transport: httpx.AsyncBaseTransport | None = None,
    kyc_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`list_transport` lets tests serve a list "URL" from memory; `account_transport` and
    `kyc_transport` put those services (id-only screenings, re-screening) behind the clients."""
    settings = settings or OfacSettings()
    if settings.is_production and not settings.ofac_list_source:
        log.warning("screening against the bundled 2021 sanctions snapshot (OFAC_ALLOW_BUNDLED_LIST=true)")
    limits = SourceLimits(
        settings.ofac_download_timeout_s, settings.ofac_file_bytes_max, settings.ofac_list_shrink_max
    )
    holder = ListHolder(settings.list_specs(), limits, transport=list_transport)
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
        async with open_resources(app, settings), open_marks(settings) as marks:
            # Written around every load, the first included: risk may keep screenings from
            # this service's previous run.
            holder.marks = marks
            # No list, no service: screening must never answer "clear" without one. The
            # other lists load too; one that fails is retried by the scheduled refresh.
            await holder.load()
            if len(holder.states()) > 1:
                metrics.count_failures(await holder.refresh())
            metrics.bind(holder)

            async def list_fresh() -> bool:
                return holder.loaded and usecases.lists_fresh(holder, settings.ofac_list_stale_after_s)

            app.state.readiness.add("sanctions_list", list_fresh)
            app.state.readiness.add_detail("sanctions_lists", lambda: usecases.list_status(holder))
            accounts = ServiceClient(
                "account",
                settings.account_service_url,
                timeout_s=settings.account_timeout_s,
                transport=account_transport,
                identity=app.state.identity,
            )
            kyc = ServiceClient(
                "kyc",
                settings.kyc_service_url,
                timeout_s=settings.kyc_timeout_s,
                transport=kyc_transport,
                identity=app.state.identity,
            )
            app.state.accounts = AccountClient(accounts)
            if settings.ofac_rescreen:
                # A list change re-screens every customer against the new or changed parties.
                rescreener = Rescreener(
                    app.state.accounts, KycClient(kyc), policy, page_size=settings.ofac_rescreen_page_size
                )
                app.state.rescreener = rescreener
                holder.on_change = rescreener
            refresher = None
            if settings.ofac_refresh_interval_s > 0:
                refresher = asyncio.create_task(refresh_forever(holder, settings.ofac_refresh_interval_s))
            try:
                yield
            finally:
                if refresher is not None:
                    refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await refresher
                await accounts.aclose()
                await kyc.aclose()

    app = create_service_app(
        settings,
        title="OFAC Service",
        description="Sanctions screening: OFAC SDN and Consolidated lists, FollowTheMoney lists.",
        lifespan=lifespan,
    )
    app.state.lists = holder
    app.state.policy = policy
    app.state.list_source = settings.list_source
    app.state.admin_token = settings.ofac_admin_token.get_secret_value()
    app.include_router(api.router)
    return app
