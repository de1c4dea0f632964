from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from cnsc.outreach.tests.factories import make_head, make_household
from cnsc.team.tests.factories import enrol, make_team


@pytest.fixture(autouse=True)
def english(settings: Any) -> Any:
    """Messages are asserted in their English source form, which the Vietnamese catalogue does
    not reword; a test that looks at the Vietnamese page asks for it."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def team(hamlet):
    return make_team(hamlet, code="KP1")


@pytest.fixture
def member(team):
    return enrol(team, full_name="Phạm Thị Hoa", sex="female", birth_year=1995).member


@pytest.fixture
def household(team):
    return make_household(team, house_number="12", street="Đường Yersin")


@pytest.fixture
def resident(household):
    return make_head(household, full_name="Nguyễn Văn Tư")
