from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from cnsc.dashboard.services import api_client_create, indicators_recompute
from cnsc.dashboard.units import resolve

from . import world


@pytest.fixture
def built(db) -> world.World:
    """The hand-built world (world.py) with its figures computed."""
    w = world.build()
    indicators_recompute()
    return w


@pytest.fixture
def token_for(db) -> Callable[..., str]:
    """A token for a new API client reading the given unit codes."""

    def make(*codes: str, name: str = "") -> str:
        refs = [resolve(code) for code in codes]
        _client, token = api_client_create(
            name=name or "client " + " ".join(codes), unit_ids=[r.id for r in refs if r]
        )
        return token

    return make


@pytest.fixture
def api() -> Callable[[str], Client]:
    def make(token: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    return make
