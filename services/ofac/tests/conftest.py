"""Shared fixtures: the bundled list loaded once per session for index-level tests, and
settings for the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from ofac.index import ScreeningIndex
from ofac.lists import build_index
from ofac.main import BUNDLED_LIST, OfacSettings
from ofac.sources import read_directory

SUBSET_LIST = Path(__file__).resolve().parent / "data" / "watchman-subset"
ADMIN_TOKEN = "test-admin-token-0123456789"
FILE_BYTES_MAX = 64 * 1024 * 1024


@pytest.fixture(scope="session")
def full_index() -> ScreeningIndex:
    return build_index(read_directory(BUNDLED_LIST, FILE_BYTES_MAX))


@pytest.fixture
def settings() -> OfacSettings:
    return OfacSettings(app_env="test", ofac_admin_token=ADMIN_TOKEN)
