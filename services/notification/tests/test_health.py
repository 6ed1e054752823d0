"""The notification service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from notification.main import MIGRATIONS, NotificationSettings, create_app
from paykit.testing import DatabaseFactory, assert_operational


async def test_starts_migrates_and_answers(database_factory: DatabaseFactory, redis_url: str) -> None:
    url = database_factory.create("notification", MIGRATIONS)
    await assert_operational(
        create_app(NotificationSettings(app_env="test", postgres_url=url, redis_url=redis_url)),
        "notification",
    )
    database_factory.drop(url)
