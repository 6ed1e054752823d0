"""Wiring of the otp service: settings, lifespan, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.resources import open_resources
from pydantic import Field, SecretStr

from . import api
from .clients import NotificationClient
from .usecases import Policy


class OtpSettings(ServiceSettings):
    service_name: str = "otp"
    port: int = 3006

    # HMAC key of the stored code hashes; a placeholder refuses to start in production.
    otp_secret: SecretStr = SecretStr("dev-only-secret-change-me")
    otp_ttl_s: float = Field(default=300.0, gt=0, le=3600)
    otp_attempts_max: int = Field(default=5, ge=1, le=20)
    otp_resend_cooldown_s: float = Field(default=30.0, ge=0.001, le=3600)
    # How long an expired challenge is kept so a late try is told OTP_EXPIRED, not NOT_FOUND.
    otp_expired_retention_s: float = Field(default=900.0, ge=0, le=86_400)
    notification_timeout_s: float = Field(default=5.0, gt=0, le=30)
    # Caps on challenges, so guesses are bounded: per payment (each of `otp_attempts_max`
    # guesses), and per customer in a rolling hour across all their payments.
    otp_challenges_per_payment_max: int = Field(default=3, ge=1, le=20)
    otp_challenges_per_customer_hour_max: int = Field(default=10, ge=1, le=1000)

    def secrets_to_check(self) -> dict[str, str]:
        return {**super().secrets_to_check(), "OTP_SECRET": self.otp_secret.get_secret_value()}

    def policy(self) -> Policy:
        return Policy(
            secret=self.otp_secret.get_secret_value().encode(),
            ttl_ms=round(self.otp_ttl_s * 1000),
            attempts_max=self.otp_attempts_max,
            resend_cooldown_ms=max(round(self.otp_resend_cooldown_s * 1000), 1),
            expired_retention_ms=round(self.otp_expired_retention_s * 1000),
            challenges_per_payment_max=self.otp_challenges_per_payment_max,
            challenges_per_customer_hour_max=self.otp_challenges_per_customer_hour_max,
        )


def create_app(
    settings: OtpSettings | None = None, *, notification_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`notification_transport` lets tests route delivery to a real notification app in-process."""
    settings = settings or OtpSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifications = NotificationClient(
            "notification",
            settings.notification_service_url,
            timeout_s=settings.notification_timeout_s,
            retries_max=settings.http_retries_max,
            transport=notification_transport,
            identity=app.state.identity,
        )
        app.state.notifications = notifications
        app.state.otp_policy = settings.policy()
        try:
            async with open_resources(app, settings, use_redis=True):
                yield
        finally:
            await notifications.aclose()

    app = create_service_app(
        settings,
        title="OTP Service",
        description="One-time passwords bound to a payment, stored hashed in Redis.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
