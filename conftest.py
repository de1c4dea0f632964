"""Test set-up shared by every app: the real unit lists are loaded once per test database."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["cnsc.core.testing", "cnsc.core.testing_processes"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Rate-limit counters live in the cache, which outlives a test's transaction: each test
    starts with every allowance whole."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    from cnsc.geo.services import units_load
    from cnsc.geo.sources import read_source

    with django_db_blocker.unblock():
        units_load(source=read_source())
