"""Production refuses unsafe settings: every secret whose value comes from the repository
(.env.example, a settings default, dev-only-*) stops the start, by name; APP_ENV unset is
production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from paykit.config import ServiceSettings
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[3]
SECRET_SUFFIXES = ("_SECRET", "_TOKEN", "_KEY", "_PASSWORD")


def repository_secrets() -> dict[str, str]:
    """Every secret `.env.example` gives a value."""
    found = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if not line.startswith("#") and value.strip() and name.strip().endswith(SECRET_SUFFIXES):
            found[name.strip()] = value.strip().strip('"')
    assert found, ".env.example has secrets to check"
    return found


class Probe(ServiceSettings):
    probe_secret: SecretStr = SecretStr("a-default-that-is-long-enough-to-pass")

    def secrets_to_check(self) -> dict[str, str]:
        return {"PROBE_SECRET": self.probe_secret.get_secret_value()}


@pytest.mark.parametrize(("name", "value"), sorted(repository_secrets().items()))
def test_every_secret_of_env_example_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="PROBE_SECRET"):
        Probe(app_env="production", probe_secret=SecretStr(value))
    with pytest.raises(ValueError, match="POSTGRES_URL"):
        Probe(
            app_env="production",
            probe_secret=SecretStr("0f9c64b7e2a14d6c9b3e51a8d07f2c64"),
            postgres_url=f"postgresql://confirm:{value}@db:5432/payments",
        )


def test_a_settings_default_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="PROBE_SECRET"):
        Probe(app_env="production")
    fresh = Probe(app_env="production", probe_secret=SecretStr("0f9c64b7e2a14d6c9b3e51a8d07f2c64"))
    assert fresh.is_production


def test_app_env_unset_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    assert ServiceSettings().is_production
    with pytest.raises(ValueError, match="PROBE_SECRET"):
        Probe()


def test_a_production_start_with_a_repository_secret_exits_naming_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"}  # unset: production
    env["OTP_SECRET"] = repository_secrets()["OTP_SECRET"]
    started = subprocess.run(
        [sys.executable, "-m", "uvicorn", "otp.main:create_app", "--factory", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    said = started.stdout + started.stderr
    assert "refuses default secrets" in said and "OTP_SECRET" in said
