"""The gateway service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from gateway.main import MIGRATIONS, GatewaySettings, create_app
from paykit.testing import DatabaseFactory, assert_operational


async def test_starts_migrates_and_answers(database_factory: DatabaseFactory, redis_url: str) -> None:
    url = database_factory.create("gateway", MIGRATIONS)
    await assert_operational(
        create_app(GatewaySettings(app_env="test", postgres_url=url, redis_url=redis_url)), "gateway"
    )
    database_factory.drop(url)
