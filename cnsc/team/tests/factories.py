"""Test data for the roster, made through the services so every row is one the app could make."""

from __future__ import annotations

import itertools
from typing import Any

from cnsc.geo.models import Hamlet
from cnsc.team.models import Member, MemberRole, Membership, Team
from cnsc.team.services import member_create, membership_start, team_create

# Valid CCCDs: province 074 (Bình Dương) / 079 (HCMC), century-and-sex digit, year, six digits.
CCCD_MAN_1985 = "074085012345"
CCCD_WOMAN_2001 = "079301123456"

_numbers = itertools.count(1)


def next_phone() -> str:
    return f"0912{next(_numbers):06d}"


def make_team(hamlet: Hamlet, **kwargs: Any) -> Team:
    kwargs.setdefault("name", f"Tổ CNSC {hamlet.name}")
    return team_create(hamlet=hamlet, **kwargs)


def make_member(commune: Any, **kwargs: Any) -> Member:
    kwargs.setdefault("full_name", "Nguyễn Văn An")
    kwargs.setdefault("sex", "male")
    kwargs.setdefault("birth_year", 1985)
    kwargs.setdefault("phone", next_phone())
    return member_create(commune=commune, **kwargs)


def enrol(
    team: Team, role: str = MemberRole.MEMBER, joined_on: Any = None, **kwargs: Any
) -> Membership:
    member = make_member(team.commune, **kwargs)
    return membership_start(member=member, team=team, role=role, joined_on=joined_on)
