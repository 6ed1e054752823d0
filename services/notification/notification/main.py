"""Wiring of the notification service: settings, lifespan, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.events import Transport, consumers_from_settings, run_in_background, transport_from_settings
from paykit.events.runner import Worker
from paykit.resources import open_resources
from pydantic import Field, SecretStr

from . import api
from .channels import (
    Channel,
    DevInboxChannel,
    SendGridEmailChannel,
    TwilioSmsChannel,
    UnconfiguredChannel,
)
from .clients import CONTACT_TTL_S, CONTACTS_CACHED_MAX, AccountClient
from .domain import ChannelName
from .events import CONSUMER_GROUP, NOTIFICATION_EVENTS_TOPIC, PAYMENT_EVENTS_TOPIC, NotificationHandlers
from .usecases import Deps

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger("notification")


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"
    port: int = 3005

    # Consume payment-events and notification-events (needs KAFKA_BROKERS or REDIS_URL).
    consume_events: bool = True
    account_timeout_s: float = Field(default=3.0, gt=0, le=30)
    # Contact details are kept this long, for at most this many customers (0: not kept).
    contact_cache_ttl_s: float = Field(default=CONTACT_TTL_S, ge=0, le=3_600)
    contact_cache_size_max: int = Field(default=CONTACTS_CACHED_MAX, ge=0, le=1_000_000)
    provider_timeout_s: float = Field(default=10.0, gt=0, le=60)
    # Providers, used only with APP_ENV=production (development writes to the dev inbox).
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    sendgrid_api_key: SecretStr = SecretStr("")
    sendgrid_from_email: str = ""
    sendgrid_api_url: str = "https://api.sendgrid.com"

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_from_number)

    @property
    def sendgrid_configured(self) -> bool:
        return bool(self.sendgrid_from_email)

    def secrets_to_check(self) -> dict[str, str]:
        checked = super().secrets_to_check()
        if self.twilio_configured:
            checked["TWILIO_AUTH_TOKEN"] = self.twilio_auth_token.get_secret_value()
        if self.sendgrid_configured:
            checked["SENDGRID_API_KEY"] = self.sendgrid_api_key.get_secret_value()
        return checked


def build_channels(
    settings: NotificationSettings, provider_transport: httpx.AsyncBaseTransport | None = None
) -> dict[ChannelName, Channel]:
    if not settings.is_production:
        dev = DevInboxChannel()
        return {"sms": dev, "email": dev, "push": dev}
    channels: dict[ChannelName, Channel] = {
        "sms": UnconfiguredChannel(),
        "email": UnconfiguredChannel(),
        # No push provider yet: push fails visibly in production rather than pretending.
        "push": UnconfiguredChannel(),
    }
    if settings.twilio_configured:
        channels["sms"] = TwilioSmsChannel(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
            base_url=settings.twilio_api_url,
            timeout_s=settings.provider_timeout_s,
            transport=provider_transport,
        )
    if settings.sendgrid_configured:
        channels["email"] = SendGridEmailChannel(
            settings.sendgrid_api_key.get_secret_value(),
            settings.sendgrid_from_email,
            base_url=settings.sendgrid_api_url,
            timeout_s=settings.provider_timeout_s,
            transport=provider_transport,
        )
    return channels


def _consumers(settings: NotificationSettings, deps: Deps, transport: Transport) -> list[Worker]:
    handlers = NotificationHandlers(deps)
    topics = {
        PAYMENT_EVENTS_TOPIC: handlers.handle_payment_event,
        NOTIFICATION_EVENTS_TOPIC: handlers.handle_notification_event,
    }
    batches = {
        PAYMENT_EVENTS_TOPIC: handlers.handle_payment_events,
        NOTIFICATION_EVENTS_TOPIC: handlers.handle_notification_events,
    }
    # A batch that fails is rolled back and handled again one by one: only when no channel
    # sends anything outside the transaction is that harmless (see events.py).
    batchable = all(channel.in_transaction for channel in deps.channels.values())
    return list(
        consumers_from_settings(
            deps.pool,
            transport,
            settings,
            group=CONSUMER_GROUP,
            handlers=topics,
            batch_handlers=batches if batchable else None,
        )
    )


def create_app(
    settings: NotificationSettings | None = None,
    *,
    account_transport: httpx.AsyncBaseTransport | None = None,
    provider_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The transports let tests route calls to the real account app or a mock provider."""
    settings = settings or NotificationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        account = AccountClient(
            "account",
            settings.account_service_url,
            timeout_s=settings.account_timeout_s,
            retries_max=settings.http_retries_max,
            transport=account_transport,
            identity=app.state.identity,
            contact_ttl_s=settings.contact_cache_ttl_s,
            contacts_cached_max=settings.contact_cache_size_max,
        )
        channels = build_channels(settings, provider_transport)
        transport: Transport | None = None
        try:
            async with open_resources(app, settings, migrations_dir=MIGRATIONS) as resources:
                deps = Deps(resources.require_pool(), account, channels)
                app.state.deps = deps
                workers: list[Worker] = []
                if settings.consume_events and (settings.kafka_brokers or settings.redis_url):
                    transport = transport_from_settings(settings)
                    workers = _consumers(settings, deps, transport)
                elif settings.consume_events:
                    log.warning("no KAFKA_BROKERS or REDIS_URL: notification is not consuming events")
                async with run_in_background(*workers, app=app, transport=transport):
                    yield
        finally:
            if transport is not None:
                await transport.aclose()
            for channel in set(channels.values()):
                await channel.aclose()
            await account.aclose()

    app = create_service_app(
        settings,
        title="Notification Service",
        description="SMS/email/push delivery and the dev inbox.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    if not settings.is_production:
        app.include_router(api.dev_router)
    return app
