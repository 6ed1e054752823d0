"""Typed settings read from the seed's environment variable names.

Every service builds one `ServiceSettings` (or a subclass) and passes it into
`create_app(settings)`. Outside development a placeholder secret refuses to start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in examples and must never reach production.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "dev-secret",
        "dev-only-secret-change-me",
        "your-super-secret-jwt-key-change-this",
        "payment_pass",
        "redis_password",
        "password",
    }
)

AppEnv = Literal["development", "test", "production"]


class InsecureSettingsError(ValueError):
    """A production process was given a default secret or key."""


class ServiceSettings(BaseSettings):
    """What every service reads. Field names map to the seed's variables (`POSTGRES_URL`...)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    service_name: str = "service"
    app_env: AppEnv = "development"
    port: int = 8000
    host: str = "127.0.0.1"
    instance_id: str = Field(default="", alias="HOSTNAME")

    postgres_url: str = ""
    db_schema: str = ""
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_statement_timeout_ms: int = 5_000
    db_connect_timeout_s: float = 5.0
    dev_seed_file: str = ""

    redis_url: str = ""
    redis_timeout_s: float = 2.0

    kafka_brokers: str = ""
    events_batch_size_max: int = 100
    events_poll_interval_ms: int = 200
    events_attempts_max: int = 5
    # A transient fault in a handler (timeout, 5xx, connection, database) is retried for this
    # long, with pauses growing to events_retry_backoff_max_s, before the event is dead-lettered.
    events_retry_budget_s: float = Field(default=120.0, gt=0, le=3600)
    events_retry_backoff_max_s: float = Field(default=2.0, gt=0, le=60)

    http_timeout_s: float = 5.0
    http_retries_max: int = 2

    # Load (paykit.serving): the budget of a request that names none (0: none), and
    # admission control: requests served at once (0: unbounded), how many may wait for a
    # slot and for how long before a fast 503 OVERLOADED.
    request_budget_ms_default: int = Field(default=0, ge=0, le=120_000)
    in_flight_max: int = Field(default=0, ge=0, le=100_000)
    admission_queue_max: int = Field(default=0, ge=0, le=100_000)
    admission_wait_ms: int = Field(default=50, ge=0, le=10_000)

    otel_exporter_otlp_endpoint: str = ""
    log_level: str = "INFO"

    # Downstream services, named as in the seed's compose file.
    confirm_service_url: str = "http://127.0.0.1:3003"
    risk_service_url: str = "http://127.0.0.1:3004"
    notification_service_url: str = "http://127.0.0.1:3005"
    otp_service_url: str = "http://127.0.0.1:3006"
    account_service_url: str = "http://127.0.0.1:3007"
    audit_service_url: str = "http://127.0.0.1:3008"
    ofac_service_url: str = "http://127.0.0.1:3009"
    kyc_service_url: str = "http://127.0.0.1:3010"
    partner_bank_api_url: str = "http://127.0.0.1:3011"

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name

    def secrets_to_check(self) -> dict[str, str]:
        """Secrets that must not be placeholders in production; services name theirs."""
        return {}

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> ServiceSettings:
        if not self.is_production:
            return self
        weak = [name for name, value in self.secrets_to_check().items() if _is_placeholder(value)]
        for url_name, url in (("POSTGRES_URL", self.postgres_url), ("REDIS_URL", self.redis_url)):
            if any(f":{p}@" in url for p in PLACEHOLDER_SECRETS if p):
                weak.append(url_name)
        if weak:
            raise InsecureSettingsError(
                f"APP_ENV=production refuses default secrets: {', '.join(sorted(weak))}"
            )
        return self


def _is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 16
