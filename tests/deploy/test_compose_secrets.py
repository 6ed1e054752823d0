"""Every secret a service refuses to start without in production is given to it by
docker-compose.yml, produced by docker/make-env.sh and documented in .env.example; and no
container gets a secret it never reads. Derived from each service's settings class, so a new
secret cannot be forgotten in one of the four places."""

from __future__ import annotations

from typing import Any

import pytest

from tools.stack import compose, services

MODEL = compose.load()
APP_SERVICES = services.app_services(MODEL)


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return compose.make_env()


@pytest.fixture
def isolated_environ(monkeypatch: pytest.MonkeyPatch):
    """Settings read os.environ: give them nothing but what the test sets."""
    import os

    for key in list(os.environ):
        monkeypatch.delenv(key)
    return monkeypatch


def _production_settings(name: str, dotenv: dict[str, str], isolated_environ: pytest.MonkeyPatch) -> Any:
    env = compose.environment(MODEL["services"][name], dotenv)
    for key, value in env.items():
        isolated_environ.setenv(key, value)
    return services.settings_class(APP_SERVICES[name])()


def test_every_service_of_the_fleet_is_in_compose() -> None:
    assert set(APP_SERVICES.values()) == set(services.packages())


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_the_service_starts_in_production_with_what_compose_and_make_env_give_it(
    name: str, dotenv: dict[str, str], isolated_environ: pytest.MonkeyPatch
) -> None:
    settings = _production_settings(name, dotenv, isolated_environ)
    assert settings.is_production, f"{name} must run with APP_ENV=production"
    raw = compose.raw_environment(MODEL["services"][name])
    for secret in settings.secrets_to_check():
        assert secret in raw, f"{name} refuses to start without {secret}; docker-compose.yml never sets it"
        assert compose.required_variables(raw[secret]), (
            f"{name}: {secret} must come from .env as ${{VAR:?...}}, so compose stops when it is missing"
        )


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_the_service_refuses_each_of_its_secrets_when_compose_gives_a_placeholder(
    name: str, dotenv: dict[str, str], isolated_environ: pytest.MonkeyPatch
) -> None:
    """The check above means something: each secret it names really is refused when weak."""

    checked = _production_settings(name, dotenv, isolated_environ).secrets_to_check()
    for secret in checked:
        isolated_environ.setenv(secret, "change-me")
        with pytest.raises(ValueError, match=f"(?i){secret}"):
            services.settings_class(APP_SERVICES[name])()
        isolated_environ.setenv(secret, compose.environment(MODEL["services"][name], dotenv)[secret])


def test_every_required_variable_is_made_by_make_env_and_documented(dotenv: dict[str, str]) -> None:
    text = compose.COMPOSE_FILE.read_text()
    required = compose.required_variables(text)
    assert required <= set(dotenv), f"docker/make-env.sh does not write {sorted(required - set(dotenv))}"
    documented = compose.example_variables()
    used = compose.variables_in(text) | compose.variables_in(compose.DEMO_FILE.read_text())
    assert used <= documented, f".env.example does not list {sorted(used - documented)}"
    assert set(dotenv) <= documented, f".env.example does not list {sorted(set(dotenv) - documented)}"
    for name, value in dotenv.items():
        if services.SECRET_NAME.search(name):
            assert len(value) >= 32, f"make-env.sh writes a weak {name}"


def test_make_env_writes_fresh_secrets_each_time(dotenv: dict[str, str]) -> None:
    again = compose.make_env()
    for name, value in dotenv.items():
        if services.SECRET_NAME.search(name):
            assert again[name] != value, f"{name} is the same in two runs of make-env.sh"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_a_container_gets_only_the_secrets_it_reads(name: str) -> None:
    package = APP_SERVICES[name]
    reads = services.env_names(services.settings_class(package))
    if not services.opens_postgres(package):
        reads.discard("POSTGRES_URL")
    if not services.opens_redis(package):
        reads.discard("REDIS_URL")
    for key, value in compose.raw_environment(MODEL["services"][name]).items():
        secrets = {v for v in compose.variables_in(value) if services.SECRET_NAME.search(v)}
        if secrets:
            assert key in reads, f"{name} is given {key} (from {sorted(secrets)}) but never reads it"
