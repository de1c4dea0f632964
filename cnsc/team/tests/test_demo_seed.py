"""The Bình Dương demo is the same on every empty database.

Apart from test_demo.py: there the whole seed_demo stays built for the module, and the outreach
demo it adds holds on to the members.
"""

from __future__ import annotations

from typing import Any

import pytest

from cnsc.geo.models import Hamlet
from cnsc.team.demo import seed_binh_duong
from cnsc.team.models import Member, Membership, Target, Team

pytestmark = pytest.mark.django_db


def content() -> list[tuple[Any, ...]]:
    """The demo without its random public codes and creation times."""
    return list(
        Membership.objects.order_by(
            "team__commune__code", "team__code", "member__phone", "joined_on"
        ).values_list(
            "team__hamlet__name",
            "team__hamlet__former_commune__code",
            "team__hamlet__latitude",
            "team__code",
            "team__decision_number",
            "member__full_name",
            "member__phone",
            "member__birth_year",
            "member__organisation",
            "member__cccd_hash",
            "role",
            "joined_on",
            "left_on",
        )
    )


def test_the_same_seed_builds_the_same_demo():
    seed_binh_duong()
    first = content()
    assert len(first) > 3329
    Membership.objects.all().delete()
    Member.objects.all().delete()
    Team.objects.all().delete()
    Hamlet.objects.all().delete()
    Target.objects.all().delete()
    seed_binh_duong()
    assert content() == first
