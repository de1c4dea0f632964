"""A small hand-built world whose figures are worked out by hand in test_indicators.py.

Two wards of Hồ Chí Minh City, both on Bình Dương's former land (former district 718, Thủ Dầu
Một city; former province 74):

    Phường Thủ Dầu Một (25747)                          Phường Phú Lợi (25750)
      hA Khu phố 1  (former Phú Cường 25747), team tA      hC Khu phố 9 (former Phú Hòa 25750),
      hB Khu phố 2  (former Phú Thọ 25753),   team tB         team tC (dissolved 20/12/2025)
      hD Khu phố 3  (retired 15/11/2025), no team
      organisation team tO (no hamlet)

Every date is fixed, in 2025 and January 2026, so the figures of those periods never change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from cnsc.core.testing import unit
from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level
from cnsc.outreach.catalogue import Service, State
from cnsc.outreach.models import Household, Resident, ServiceEvent, Source, Visit, VisitSource
from cnsc.team.models import (
    Member,
    MemberRole,
    Membership,
    Target,
    Team,
    TeamKind,
    TeamStatus,
)
from cnsc.training.models import Attendance, Course, ResidentAttendee, TrainingSession

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


def former(code: str, level: str = Level.COMMUNE) -> AdminUnit:
    return AdminUnit.objects.get(hierarchy=Hierarchy.FORMER, level=level, code=code)


@dataclass
class World:
    home: AdminUnit
    neighbour: AdminUnit
    hamlets: dict[str, Hamlet] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    visits: dict[str, Visit] = field(default_factory=dict)


_phone = iter(range(10**6))


def _member(commune: AdminUnit, name: str) -> Member:
    return Member.objects.create(
        commune=commune,
        full_name=name,
        sex="female",
        birth_year=1990,
        phone=f"+8490{next(_phone):07d}",
    )


def build() -> World:
    home, neighbour = unit("25747"), unit("25750")
    w = World(home=home, neighbour=neighbour)

    def hamlet(key: str, commune: AdminUnit, name: str, former_code: str | None, **extra: Any):
        w.hamlets[key] = Hamlet.objects.create(
            commune=commune,
            name=name,
            kind=HamletKind.QUARTER,
            former_commune=former(former_code) if former_code else None,
            created_on=dt.date(2024, 1, 1),
            **extra,
        )

    hamlet("A", home, "Khu phố 1", "25747")
    hamlet("B", home, "Khu phố 2", "25753")
    hamlet("C", neighbour, "Khu phố 9", "25750")
    hamlet("D", home, "Khu phố 3", None, retired_on=dt.date(2025, 11, 15))
    Hamlet.objects.filter(pk=w.hamlets["D"].pk).update(created_on=dt.date(2025, 6, 1))

    def team(key: str, commune: AdminUnit, founded: dt.date, **extra: Any) -> None:
        w.teams[key] = Team.objects.create(
            commune=commune,
            code=f"T{key}",
            name=f"Tổ CNSC {key}",
            decision_date=founded,
            status_since=founded,
            **extra,
        )

    team("A", home, dt.date(2025, 3, 1), hamlet=w.hamlets["A"])
    team("B", home, dt.date(2025, 12, 10), hamlet=w.hamlets["B"])
    team(
        "C",
        neighbour,
        dt.date(2024, 5, 1),
        hamlet=w.hamlets["C"],
        status=TeamStatus.DISSOLVED,
    )
    Team.objects.filter(pk=w.teams["C"].pk).update(status_since=dt.date(2025, 12, 20))
    team(
        "O",
        home,
        dt.date(2025, 1, 10),
        kind=TeamKind.ORGANISATION,
        organisation_name="Bưu điện Thủ Dầu Một",
    )

    def member(key: str, team_key: str, joined: dt.date, left: dt.date | None = None,
               role: str = MemberRole.MEMBER) -> None:  # fmt: skip
        t = w.teams[team_key]
        w.members[key] = m = _member(t.commune, f"Thành viên {key}")
        Membership.objects.create(member=m, team=t, role=role, joined_on=joined, left_on=left)

    member("m1", "A", dt.date(2025, 3, 1), role=MemberRole.LEADER)
    member("m2", "A", dt.date(2025, 3, 1), left=dt.date(2025, 12, 15))
    member("m3", "B", dt.date(2025, 12, 10), role=MemberRole.LEADER)
    member("m4", "O", dt.date(2025, 1, 10), role=MemberRole.LEADER)
    member("m5", "C", dt.date(2024, 5, 1), left=dt.date(2025, 12, 20), role=MemberRole.LEADER)

    def household(key: str, hamlet_key: str, team_key: str, created: dt.datetime) -> None:
        h = w.hamlets[hamlet_key]
        w.households[key] = hh = Household.objects.create(
            commune_id=h.commune_id, hamlet=h, team=w.teams[team_key], house_number=key
        )
        Household.objects.filter(pk=hh.pk).update(created_at=created)

    household("hh1", "A", "A", at(2025, 1, 5))
    household("hh2", "A", "A", at(2025, 1, 5))
    household("hh3", "A", "A", at(2025, 1, 5))
    household("hh4", "B", "B", at(2025, 6, 1))
    household("hh5", "B", "B", at(2026, 1, 10))
    household("hh6", "C", "C", at(2025, 1, 5))

    def visit(key: str, member_key: str, household_key: str, when: dt.datetime) -> None:
        m, hh = w.members[member_key], w.households[household_key]
        team_id = Membership.objects.filter(member=m).values_list("team_id", flat=True)[0]
        w.visits[key] = Visit.objects.create(
            idempotency_key=f"test:{key}",
            member=m,
            household=hh,
            team_id=team_id,
            commune_id=hh.commune_id,
            happened_at=when,
            source=VisitSource.BOT,
        )

    visit("v1", "m1", "hh1", at(2025, 12, 3))
    visit("v2", "m1", "hh1", at(2025, 12, 20))
    visit("v3", "m2", "hh2", at(2025, 11, 20))
    visit("v4", "m3", "hh4", at(2025, 12, 11))
    visit("v5", "m5", "hh6", at(2025, 10, 5))
    visit("v6", "m1", "hh5", at(2026, 1, 15))
    # Either side of midnight on New Year's Eve, local time (16:30 and 17:30 UTC on the 31st).
    visit("v7", "m1", "hh2", at(2025, 12, 31, 23, 30))
    visit("v8", "m1", "hh3", at(2026, 1, 1, 0, 30))

    def resident(key: str, household_key: str, born: int, created: dt.datetime | None = None,
                 **extra: Any) -> None:  # fmt: skip
        hh = w.households[household_key]
        w.residents[key] = r = Resident.objects.create(
            household=hh, full_name=f"Cư dân {key}", birth_year=born, **extra
        )
        Resident.objects.filter(pk=r.pk).update(created_at=created or at(2025, 1, 5))

    resident("r1", "hh1", 1980)
    resident("r2", "hh1", 2012)
    resident("r3", "hh1", 2011)
    resident("r4", "hh4", 1950, created=at(2025, 6, 1), welfare_beneficiary=True)
    resident("r5", "hh4", 1990, created=at(2025, 6, 1), welfare_beneficiary=True)
    resident("r6", "hh6", 2000)
    resident("r7", "hh5", 1985, created=at(2026, 1, 10))

    def event(resident_key: str, service: str, old: str, new: str, when: dt.datetime,
              visit_key: str | None = None) -> None:  # fmt: skip
        ServiceEvent.objects.create(
            resident=w.residents[resident_key],
            service=service,
            from_state=old,
            to_state=new,
            backward=False,
            happened_at=when,
            source=Source.VISIT if visit_key else Source.OFFICIAL,
            visit=w.visits[visit_key] if visit_key else None,
        )

    vneid, pay, sig, welfare = (
        Service.VNEID,
        Service.PAYMENT,
        Service.SIGNATURE,
        Service.WELFARE_ACCOUNT,
    )
    event("r1", vneid, State.NONE, State.LEVEL2, at(2025, 12, 3), "v1")
    event("r1", pay, State.NONE, State.OPENED, at(2025, 11, 1))
    event("r1", sig, State.NONE, State.ISSUED, at(2025, 12, 20), "v2")
    event("r2", vneid, State.NONE, State.LEVEL2, at(2025, 12, 3), "v1")
    event("r3", vneid, State.NONE, State.LEVEL1, at(2025, 12, 3), "v1")
    event("r4", vneid, State.NONE, State.LEVEL2, at(2025, 7, 1))
    event("r4", vneid, State.LEVEL2, State.LEVEL1, at(2025, 12, 15))
    event("r4", welfare, State.NONE, State.PAID_VIA_ACCOUNT, at(2025, 12, 11), "v4")
    event("r5", pay, State.NONE, State.OPENED, at(2025, 12, 11), "v4")
    event("r5", sig, State.NONE, State.ISSUED, at(2025, 12, 11), "v4")
    event("r6", vneid, State.NONE, State.LEVEL2, at(2025, 10, 5), "v5")
    event("r6", pay, State.NONE, State.OPENED, at(2025, 10, 5), "v5")
    event("r6", sig, State.NONE, State.ISSUED, at(2025, 10, 5), "v5")
    # Imported from the police's list before the household was on ours.
    event("r7", vneid, State.NONE, State.LEVEL2, at(2025, 12, 1))

    # Targets: Hồ Chí Minh City for 2025, and Bình Dương's old plan carried on for 2025.
    Target.objects.create(unit=unit("79", Level.PROVINCE), year=2025, teams=4, members=10)
    Target.objects.create(unit=former("74", Level.PROVINCE), year=2025, teams=3, members=8)

    _training(w)
    _recorded_an_hour_ago()
    return w


def _recorded_an_hour_ago() -> None:
    """Everything above was recorded an hour ago, not just now, so a refresh run by a test
    sees only what the test records afterwards."""
    earlier = timezone.now() - dt.timedelta(hours=1)
    for model in (Hamlet, Team, Membership, Household, Resident, Visit, Target):
        model.history.update(history_date=earlier)  # type: ignore[attr-defined]
    Visit.objects.update(recorded_at=earlier)
    ServiceEvent.objects.update(recorded_at=earlier)


def _training(w: World) -> None:
    """Two sessions in Thủ Dầu Một in December 2025: one given by m1 (team A) in Khu phố 1, one
    by m1 and m4 (teams A and O) at the ward."""
    course = Course.objects.create(unit=w.home, title="Kỹ năng số cơ bản", hours=Decimal(2))
    first = TrainingSession.objects.create(
        course=course,
        commune=w.home,
        hamlet=w.hamlets["A"],
        place="Nhà văn hóa khu phố 1",
        starts_at=at(2025, 12, 5, 8),
        ends_at=at(2025, 12, 5, 10),
        capacity=30,
    )
    first.trainers.set([w.members["m1"]])
    second = TrainingSession.objects.create(
        course=course,
        commune=w.home,
        place="Hội trường UBND phường",
        starts_at=at(2025, 12, 20, 8),
        ends_at=at(2025, 12, 20, 10),
        capacity=30,
    )
    second.trainers.set([w.members["m1"], w.members["m4"]])
    people = {
        key: ResidentAttendee.objects.create(
            commune=w.home,
            full_name=f"Học viên {key}",
            birth_year=1970,
            consent_purpose="Cấp giấy chứng nhận",
            consent_given_at=timezone.now(),
        )
        for key in ("RA1", "RA2", "RA3", "RA4")
    }
    marked = at(2025, 12, 5, 9)
    for session, key, passed in (
        (first, "RA1", True),
        (first, "RA2", False),
        (first, "RA3", True),
        (second, "RA1", True),
        (second, "RA4", True),
    ):
        Attendance.objects.create(
            session=session,
            resident=people[key],
            attended=True,
            marked_at=marked,
            method="back_office",
            passed=passed,
        )
