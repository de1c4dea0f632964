"""Test data for outreach, made through the services so every row is one the app could make."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from typing import Any

from django.utils import timezone
from PIL import Image

from cnsc.outreach.catalogue import Result, Service
from cnsc.outreach.models import Household, Relation, Resident, Visit, VisitSource
from cnsc.outreach.services import (
    OutcomeIn,
    household_create,
    resident_create,
    visit_record,
)
from cnsc.team.models import Member, Team

_keys = itertools.count(1)

# Valid CCCDs for residents (province code, century-and-sex digit, year, six digits).
CCCD_WOMAN_1990 = "074190654321"
CCCD_MAN_1960 = "079060111222"


def make_household(team: Team, **kwargs: Any) -> Household:
    return household_create(hamlet=team.hamlet, team=team, **kwargs)


def make_resident(household: Household, **kwargs: Any) -> Resident:
    kwargs.setdefault("full_name", "Lê Văn Bình")
    kwargs.setdefault("sex", "male")
    kwargs.setdefault("birth_year", 1980)
    return resident_create(household=household, **kwargs)


def make_head(household: Household, **kwargs: Any) -> Resident:
    return make_resident(household, relation_to_head=Relation.HEAD, **kwargs)


def key() -> str:
    return f"test:{next(_keys)}"


def record(
    member: Member,
    household: Household,
    outcomes: list[OutcomeIn] | None = None,
    *,
    happened_at: dt.datetime | None = None,
    **kwargs: Any,
) -> Visit:
    kwargs.setdefault("idempotency_key", key())
    kwargs.setdefault("source", VisitSource.BOT)
    visit, _created = visit_record(
        member=member,
        household=household,
        happened_at=happened_at or timezone.now() - dt.timedelta(minutes=10),
        outcomes=outcomes or [],
        **kwargs,
    )
    return visit


def done(resident: Resident, service: str = Service.VNEID, **kwargs: Any) -> OutcomeIn:
    return OutcomeIn(resident=resident, service=service, result=Result.DONE, **kwargs)


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()
