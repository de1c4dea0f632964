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


@pytest.fixture(autouse=True)
def _units_for_committing_tests(request: Any) -> None:
    """A test that commits (``django_db(transaction=True)``) ends by emptying every table, the
    units loaded above included; pytest-django runs such tests last, so each of them loads the
    units again when the one before it took them away."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from cnsc.geo.models import AdminUnit
    from cnsc.geo.services import units_load
    from cnsc.geo.sources import read_source

    if not AdminUnit.objects.exists():
        units_load(source=read_source())
