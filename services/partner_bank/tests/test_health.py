"""The partner_bank service starts, migrates and answers its operational endpoints."""

from __future__ import annotations

from partner_bank.main import MIGRATIONS, PartnerBankSettings, create_app
from paykit.testing import DatabaseFactory, assert_operational


async def test_starts_migrates_and_answers(database_factory: DatabaseFactory, redis_url: str) -> None:
    url = database_factory.create("partner_bank", MIGRATIONS)
    await assert_operational(
        create_app(PartnerBankSettings(app_env="test", postgres_url=url, redis_url=redis_url)), "partner_bank"
    )
    database_factory.drop(url)
