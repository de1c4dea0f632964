from __future__ import annotations

from typing import Any

import pytest

from cnsc.bot.models import LinkMethod, TelegramAccount
from cnsc.bot.testing import Harness, Updates
from cnsc.geo.models import Hamlet
from cnsc.team.models import Member, Team
from cnsc.team.tests.factories import enrol, make_team

USER_ID = 4242


@pytest.fixture(autouse=True)
def _media_and_language(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Assertions read the English source texts; Vietnamese (the default) is the catalogue's.
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def placed_hamlet(hamlet: Hamlet) -> Hamlet:
    # The centre of Phường Thủ Dầu Một.
    hamlet.latitude, hamlet.longitude = 10.9804, 106.6519
    hamlet.save()
    return hamlet


@pytest.fixture
def team(placed_hamlet: Hamlet) -> Team:
    return make_team(placed_hamlet)


@pytest.fixture
def member(team: Team) -> Member:
    return enrol(team, full_name="Trần Thị Hoa", sex="female", birth_year=1990).member


@pytest.fixture
def linked(member: Member) -> TelegramAccount:
    return TelegramAccount.objects.create(
        member=member,
        telegram_user_id=USER_ID,
        chat_id=USER_ID,
        linked_by=LinkMethod.INVITATION,
        language="en",
    )


@pytest.fixture
def you() -> Updates:
    return Updates(USER_ID)


@pytest.fixture
def bot(db: Any) -> Harness:
    return Harness()
