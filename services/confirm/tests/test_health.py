"""The confirm service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from confirm.main import MIGRATIONS, ConfirmSettings, create_app
from paykit.testing import DatabaseFactory, assert_operational


async def test_starts_migrates_and_answers(database_factory: DatabaseFactory, redis_url: str) -> None:
    url = database_factory.create("confirm", MIGRATIONS)
    await assert_operational(
        create_app(ConfirmSettings(app_env="test", postgres_url=url, redis_url=redis_url)), "confirm"
    )
    database_factory.drop(url)
