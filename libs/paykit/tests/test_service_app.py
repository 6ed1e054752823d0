"""What every service inherits from paykit: /health, /ready naming what is down, /metrics,
problem+json errors, the body-size limit, correlation ids, production refusing defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import pytest
from fastapi import FastAPI
from paykit.config import ServiceSettings
from paykit.errors import ProblemError
from paykit.resources import open_resources
from paykit.service import create_service_app
from paykit.testing import DatabaseFactory, running_app
from pydantic import BaseModel


class Item(BaseModel):
    amount_minor: int


def build_app(settings: ServiceSettings, migrations: Path) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, settings, migrations_dir=migrations, use_redis=True):
            yield

    app = create_service_app(settings, title="Probe", lifespan=lifespan)

    @app.post("/items")
    async def create(item: Item) -> dict[str, int]:
        if item.amount_minor > 100:
            raise ProblemError(422, "INSUFFICIENT_FUNDS", "Not enough money", available_minor=100)
        return {"amount_minor": item.amount_minor}

    return app


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    (tmp_path / "0001_probe.sql").write_text("CREATE TABLE probe (id INT PRIMARY KEY);")
    return tmp_path


async def test_ready_names_the_database_when_it_goes_down(
    database_factory: DatabaseFactory, redis_url: str, migrations: Path
) -> None:
    url = database_factory.create("probe", migrations)
    settings = ServiceSettings(service_name="probe", postgres_url=url, redis_url=redis_url)
    async with running_app(build_app(settings, migrations)) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "up", "redis": "up"}
        database_factory.drop(url)  # the database is gone: as good as stopped for this service
        down = await client.get("/ready")
        assert down.status_code == 503
        assert down.json()["checks"] == {"postgres": "down", "redis": "up"}
        assert "postgres" in down.json()["detail"]
        assert (await client.get("/health")).status_code == 200, "liveness does not depend on the database"


async def test_errors_are_problem_json_with_stable_codes(
    database_factory: DatabaseFactory, redis_url: str, migrations: Path
) -> None:
    url = database_factory.create("probe", migrations)
    settings = ServiceSettings(service_name="probe", postgres_url=url, redis_url=redis_url)
    async with running_app(build_app(settings, migrations)) as client:
        invalid = await client.post("/items", json={"amount_minor": "lots"})
        assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
        assert (
            invalid.json()["code"] == "VALIDATION_ERROR"
            and invalid.json()["errors"][0]["field"] == "amount_minor"
        )
        refused = await client.post(
            "/items", json={"amount_minor": 500}, headers={"X-Correlation-ID": "abc-1"}
        )
        assert refused.json() == {
            "type": "https://errors.payment-fleet.dev/insufficient-funds",
            "title": HTTPStatus(422).phrase,
            "status": 422,
            "code": "INSUFFICIENT_FUNDS",
            "error": "INSUFFICIENT_FUNDS",
            "detail": "Not enough money",
            "instance": "/items",
            "available_minor": 100,
        }
        assert refused.headers["x-correlation-id"] == "abc-1"
        missing = await client.get("/nowhere")
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        huge = await client.post(
            "/items", content=b"1" * 70_000, headers={"content-type": "application/json"}
        )
        assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
        metrics = (await client.get("/metrics")).text
        assert 'http_requests_total{method="POST",route="/items",service="probe",status="422"}' in metrics
    database_factory.drop(url)


def test_production_refuses_default_passwords_in_urls() -> None:
    with pytest.raises(ValueError, match="refuses default secrets"):
        ServiceSettings(app_env="production", postgres_url="postgresql://confirm:payment_pass@db/payment_db")
    with pytest.raises(ValueError, match="refuses default secrets"):
        ServiceSettings(app_env="production", redis_url="redis://:redis_password@redis:6379")
    ok = ServiceSettings(
        app_env="production", postgres_url="postgresql://confirm:Zx81-long-random@db/payment_db"
    )
    assert ok.is_production
