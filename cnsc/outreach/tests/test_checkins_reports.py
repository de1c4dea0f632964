"""Check-ins at a hamlet, and field reports from the member to the commune and back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cnsc.access.roles import Role
from cnsc.core.testing import make_user
from cnsc.geo.models import Hamlet, HamletKind
from cnsc.outreach.models import CheckIn, FieldReport, ReportCategory, ReportStatus
from cnsc.outreach.selectors import field_reports_to_notify
from cnsc.outreach.services import (
    checkin_record,
    field_report_answer,
    field_report_assign,
    field_report_close,
    field_report_create,
    field_report_mark_notified,
)
from cnsc.outreach.tests.factories import image_bytes
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db

CENTRE = (10.9804, 106.6519)


@pytest.fixture
def centred(hamlet):
    hamlet.latitude, hamlet.longitude = CENTRE
    hamlet.save()
    return hamlet


def check_in(member, hamlet, key="bot:1:1", **kwargs):
    kwargs.setdefault("at", timezone.now())
    return checkin_record(member=member, hamlet=hamlet, idempotency_key=key, **kwargs)


def test_a_checkin_near_the_centre_has_no_warning_and_is_stored_once(member, centred):
    checkin, created = check_in(member, centred, point=(10.9810, 106.6525), accuracy_m=15)
    assert created
    assert checkin.warnings == []
    assert 50 < checkin.distance_m < 120
    assert checkin.team == member.memberships.get().team
    again, created_again = check_in(member, centred, point=(10.0, 106.0))
    assert (again, created_again) == (checkin, False)
    assert CheckIn.objects.count() == 1


def test_doubtful_checkins_are_kept_with_warnings(member, team, centred, home_commune):
    far, _ = check_in(member, centred, "k1", point=(11.10, 106.70), accuracy_m=900)
    assert set(far.warnings) == {"far", "inaccurate"}
    assert far.distance_m > 10_000
    blind, _ = check_in(member, centred, "k2")
    assert blind.warnings == ["no_point"]
    next_door = Hamlet.objects.create(
        commune=home_commune, name="Khu phố 3", kind=HamletKind.QUARTER
    )
    other, _ = check_in(member, next_door, "k3", point=CENTRE)
    assert set(other.warnings) == {"no_centre", "other_hamlet"}


def test_checkins_outside_the_teams_commune_or_abroad_or_in_the_future_are_refused(
    member, other_hamlet, centred
):
    with pytest.raises(ValidationError, match="not in your team's commune"):
        check_in(member, other_hamlet)
    with pytest.raises(ValidationError, match="outside Vietnam"):
        check_in(member, centred, point=(13.75, 100.5))  # Bangkok
    with pytest.raises(ValidationError, match="future"):
        check_in(member, centred, at=timezone.now() + dt.timedelta(hours=2))
    assert not CheckIn.objects.exists()


def test_a_member_in_no_team_cannot_check_in(home_commune, centred):
    from cnsc.team.tests.factories import make_member

    loner = make_member(home_commune, full_name="Một Mình")
    with pytest.raises(ValidationError, match="not in an active team"):
        check_in(loner, centred)


def report(member, key="bot:1:50", **kwargs):
    kwargs.setdefault("category", ReportCategory.SCAM)
    kwargs.setdefault("text", "Có người gọi điện giả danh công an, đòi mã OTP VNeID.")
    return field_report_create(reporter=member, idempotency_key=key, **kwargs)


def test_the_field_report_flow(member, hamlet, official, province_staff):
    created, new = report(member, hamlet=hamlet, point=CENTRE, photo=image_bytes("WEBP"))
    assert new
    assert (created.commune, created.team, created.status) == (
        hamlet.commune,
        member.memberships.get().team,
        "open",
    )
    assert created.photo.name.startswith("reports/")
    assert report(member, hamlet=hamlet) == (created, False)

    assigned = field_report_assign(report=created, assignee=official, by=province_staff)
    assert (assigned.status, assigned.assigned_to) == (ReportStatus.ASSIGNED, official)
    assert field_reports_to_notify() == []

    answered = field_report_answer(report=assigned, answer="Đã báo công an phường.", by=official)
    assert (answered.status, answered.answer) == (ReportStatus.CLOSED, "Đã báo công an phường.")
    assert answered.closed_at == answered.answered_at
    assert field_reports_to_notify() == [answered]
    field_report_mark_notified(report=answered)
    assert answered.reporter_notified_at is not None
    assert field_reports_to_notify() == []
    assert answered.history.first().history_user == official

    with pytest.raises(ValidationError, match="already closed"):
        field_report_answer(report=answered, answer="Again", by=official)


def test_a_report_is_assigned_only_to_an_official_who_may_act_on_it(
    member, official, outsider, province_reader
):
    created, _ = report(member)
    leader = make_user("leader", Role.TEAM_LEADER)
    for wrong in (outsider, province_reader, leader):
        with pytest.raises(ValidationError, match="who may act on it"):
            field_report_assign(report=created, assignee=wrong, by=official)
    created.refresh_from_db()
    assert created.status == ReportStatus.OPEN


def test_a_report_can_be_closed_without_answer_and_an_answer_is_required(member, official):
    created, _ = report(member)
    with pytest.raises(ValidationError, match="Write the answer"):
        field_report_answer(report=created, answer="  ", by=official)
    closed = field_report_close(report=created, by=official)
    assert closed.status == ReportStatus.CLOSED
    assert closed.answer == ""
    field_report_mark_notified(report=closed)
    closed.refresh_from_db()
    assert closed.reporter_notified_at is None  # nothing to tell


def test_bad_reports_are_refused(member, other_hamlet, team):
    with pytest.raises(ValidationError, match="what kind of problem"):
        report(member, category="weather")
    with pytest.raises(ValidationError, match="Say what happened"):
        report(member, text="   ")
    with pytest.raises(ValidationError, match="not in your team's commune"):
        report(member, hamlet=other_hamlet)
    with pytest.raises(ValidationError, match="not a photo"):
        report(member, photo=b"plain text")
    colleague = enrol(team, full_name="Võ Văn Kiệt").member
    report(member, key="shared")
    with pytest.raises(ValidationError, match="already used"):
        report(colleague, key="shared")
    assert FieldReport.objects.count() == 1


def test_another_teams_leader_does_not_see_the_report(member, hamlet):
    from cnsc.team.models import MemberRole

    created, _ = report(member)
    other_team = make_team(
        Hamlet.objects.create(commune=hamlet.commune, name="KP 8", kind=HamletKind.QUARTER)
    )
    leader_user = make_user("leader2", Role.TEAM_LEADER)
    enrol(other_team, role=MemberRole.LEADER, full_name="Tổ Trưởng", user=leader_user)
    assert not FieldReport.objects.visible_to(leader_user).exists()
    own_leader = make_user("leader1", Role.TEAM_LEADER)
    enrol(
        member.memberships.get().team,
        role=MemberRole.LEADER,
        full_name="Trưởng Nhà",
        user=own_leader,
    )
    assert list(FieldReport.objects.visible_to(own_leader)) == [created]
