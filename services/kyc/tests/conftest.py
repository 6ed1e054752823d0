"""Fixtures: a fresh migrated kyc database per test and the REAL ofac app behind an ASGI
transport (the bundled SDN list), so verifications screen names for real."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from kyc.main import MIGRATIONS, KycSettings, create_app
from ofac.main import OfacSettings
from ofac.main import create_app as create_ofac_app
from paykit.testing import DatabaseFactory, running_app

REVIEWER_TOKEN = "test-reviewer-token-0123456789"
REVIEWER = {"Authorization": f"Bearer {REVIEWER_TOKEN}"}


@pytest.fixture
def settings(database_factory: DatabaseFactory, redis_url: str) -> Iterator[KycSettings]:
    url = database_factory.create("kyc", MIGRATIONS)
    yield KycSettings(
        app_env="test",
        postgres_url=url,
        redis_url=redis_url,
        kyc_reviewer_token=REVIEWER_TOKEN,
        kyc_outbox_relay=False,
    )
    database_factory.drop(url)


@pytest.fixture
async def ofac_transport() -> AsyncIterator[httpx.ASGITransport]:
    app = create_ofac_app(OfacSettings(app_env="test"))
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app)


@pytest.fixture
async def client(
    settings: KycSettings, ofac_transport: httpx.ASGITransport
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings, ofac_transport=ofac_transport)) as c:
        yield c
