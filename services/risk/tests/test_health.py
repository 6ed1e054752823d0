"""The risk service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from paykit.testing import DatabaseFactory, assert_operational
from risk.main import MIGRATIONS, RiskSettings, create_app


async def test_starts_migrates_and_answers(database_factory: DatabaseFactory, redis_url: str) -> None:
    url = database_factory.create("risk", MIGRATIONS)
    await assert_operational(
        create_app(RiskSettings(app_env="test", postgres_url=url, redis_url=redis_url)), "risk"
    )
    database_factory.drop(url)
