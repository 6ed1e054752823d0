"""Typed settings read from the seed's environment variable names.

Every service builds one `ServiceSettings` (or a subclass) and passes it into
`create_app(settings)`. `APP_ENV` unset means production: development and tests choose
themselves explicitly (`make run`, the pytest plugin, the integration fleet). In production
a secret whose value comes from the repository (a placeholder, `.env.example`'s `dev-only-*`
values, the settings' own default, or anything under 16 characters) refuses to start, by name.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
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

# Every example secret in the repository (.env.example, docs) starts with one of these.
REPOSITORY_PREFIXES = ("dev-only", "dev_only", "example-", "changeme", "change-me")

AppEnv = Literal["development", "test", "production"]


class InsecureSettingsError(ValueError):
    """A production process was given a default secret or key."""


class ServiceSettings(BaseSettings):
    """What every service reads. Field names map to the seed's variables (`POSTGRES_URL`...)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    service_name: str = "service"
    # Unset is production: no dev inbox, no fault injection, no generated keys, no defaults.
    app_env: AppEnv = "production"
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
    # A consumer that fetched less than a full batch waits this long before the next fetch, so
    # batches gather several events (one transaction and one acknowledgement each): events
    # reach audit and notification up to this much later, for less CPU (at 8 payments/s,
    # audit + notification: 8.9 ms per payment with 100 ms, 5.4 with 400; docs/benchmarks.md).
    events_batch_linger_ms: int = Field(default=400, ge=0, le=5_000)
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

    # Service identity (paykit.identity): this service's own Ed25519 key and every issuer's
    # public key. Development and tests may give a per-run seed instead (never production).
    service_signing_key: SecretStr = SecretStr("")
    service_public_keys: str = ""
    service_identity_dev_seed: SecretStr = SecretStr("")
    service_token_ttl_s: int = 300
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
        weak = [
            name
            for name, value in self.secrets_to_check().items()
            if _is_placeholder(value) or value == self._default_of(name)
        ]
        for url_name, url in (("POSTGRES_URL", self.postgres_url), ("REDIS_URL", self.redis_url)):
            password = _url_password(url)
            if password and _from_repository(password):
                weak.append(url_name)
        if weak:
            raise InsecureSettingsError(
                f"APP_ENV=production refuses default secrets: {', '.join(sorted(weak))}"
                " (values from the repository are public; set fresh ones)"
            )
        return self

    def _default_of(self, name: str) -> str | None:
        """The settings' own default of the secret named `name` (env names map to fields)."""
        field = type(self).model_fields.get(name.lower())
        if field is None or field.default is None:
            return None
        default = field.default
        return default.get_secret_value() if isinstance(default, SecretStr) else str(default)


def _from_repository(value: str) -> bool:
    text = value.strip().lower()
    return text in PLACEHOLDER_SECRETS or text.startswith(REPOSITORY_PREFIXES)


def _is_placeholder(value: str) -> bool:
    return _from_repository(value) or len(value) < 16


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password if url else None
    except ValueError:
        return None
