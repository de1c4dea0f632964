"""Teams, members and memberships through the services, and the rules the database keeps."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation

from cnsc.geo.models import Hamlet, HamletKind
from cnsc.team.models import Member, MemberRole, Membership, TeamKind, TeamStatus
from cnsc.team.services import (
    member_create,
    member_move,
    member_update,
    membership_end,
    membership_start,
    team_create,
    team_update,
)
from cnsc.team.tests.factories import (
    CCCD_MAN_1985,
    CCCD_WOMAN_2001,
    enrol,
    make_member,
    make_team,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted on their English source text; the Vietnamese catalogue changes."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


TODAY = timezone.localdate()
LONG_AGO = dt.date(2023, 3, 1)


def test_a_hamlet_team_takes_its_commune_from_the_hamlet(hamlet):
    team = team_create(hamlet=hamlet, name="Tổ CNSC  Khu phố 1", code="KP1")
    assert team.commune == hamlet.commune
    assert team.name == "Tổ CNSC Khu phố 1"
    assert team.search_name == "to cnsc khu pho 1 kp1"
    assert team.status == TeamStatus.ACTIVE


def test_team_codes_are_unique_within_a_commune_only(hamlet, other_hamlet):
    make_team(hamlet, code="T01")
    make_team(other_hamlet, code="T01")
    with pytest.raises(ValidationError, match="already has this code"):
        make_team(hamlet, code="T01", name="Another")


def test_a_team_cannot_use_another_communes_hamlet(hamlet, other_hamlet):
    with pytest.raises(ValidationError) as error:
        team_create(hamlet=other_hamlet, commune=hamlet.commune, name="X")
    assert "another commune" in error.value.message_dict["hamlet"][0]


def test_an_organisation_team_needs_its_organisations_name(home_commune):
    with pytest.raises(ValidationError) as error:
        team_create(commune=home_commune, kind=TeamKind.ORGANISATION, name="Tổ VNPT")
    assert "organisation" in error.value.message_dict["organisation_name"][0]
    team = team_create(
        commune=home_commune,
        kind=TeamKind.ORGANISATION,
        name="Tổ CNSC Bưu điện",
        organisation_name="Bưu điện Thủ Dầu Một",
    )
    assert team.hamlet is None


def test_a_status_change_is_dated_and_kept_in_history(hamlet):
    team = make_team(hamlet, status_since=LONG_AGO)
    team_update(team=team, status=TeamStatus.SUSPENDED)
    team.refresh_from_db()
    assert team.status_since == TODAY
    assert [h.status for h in team.history.order_by("history_date")] == ["active", "suspended"]


def test_moving_a_hamlet_team_to_another_communes_hamlet_moves_the_commune(
    hamlet, neighbour_commune
):
    team = make_team(hamlet)
    other = Hamlet.objects.create(
        commune=neighbour_commune, name="Khu phố 9", kind=HamletKind.QUARTER
    )
    team_update(team=team, hamlet=other)
    team.refresh_from_db()
    assert team.commune == neighbour_commune


def test_a_member_is_stored_with_normalised_phone_and_only_a_hash_of_the_cccd(home_commune):
    member = member_create(
        commune=home_commune,
        full_name="Nguyễn Thị Hoa",
        sex="female",
        birth_year=2001,
        phone="0912 345 678",
        cccd=CCCD_WOMAN_2001,
    )
    member.refresh_from_db()
    assert member.phone == "+84912345678"
    assert member.cccd_last4 == "3456"
    assert len(member.cccd_hash) == 64
    assert member.search_name == "nguyen thi hoa"
    assert member.consent_given_at is None


def test_the_same_phone_in_another_spelling_is_the_same_member(home_commune, other_commune):
    make_member(home_commune, phone="0912 345 678")
    with pytest.raises(ValidationError) as error:
        make_member(other_commune, phone="84-912-345-678")
    assert "phone number is already" in error.value.message_dict["phone"][0]
    assert Member.objects.count() == 1


def test_the_same_cccd_cannot_be_enrolled_twice(home_commune):
    make_member(home_commune, cccd=CCCD_MAN_1985)
    with pytest.raises(ValidationError) as error:
        make_member(home_commune, cccd="074 085 012345")
    assert "CCCD is already" in error.value.message_dict["cccd"][0]


def test_a_cccd_that_contradicts_the_member_is_refused_with_every_other_problem(home_commune):
    with pytest.raises(ValidationError) as error:
        make_member(home_commune, cccd=CCCD_MAN_1985, sex="female", full_name=" ")
    errors = error.value.message_dict
    assert "sex" in errors["cccd"][0]
    assert "full name" in errors["full_name"][0]


def test_consent_is_never_assumed_and_is_recorded_with_its_purpose(home_commune):
    member = make_member(home_commune)
    assert member.consent_given_at is None
    member_update(member=member, consent_given=True)
    assert member.consent_given_at is not None
    assert member.consent_purpose
    member_update(member=member, consent_given=False)
    assert member.consent_given_at is None


def test_updating_a_member_keeps_or_replaces_or_removes_the_cccd(home_commune):
    member = make_member(home_commune, cccd=CCCD_MAN_1985)
    first = member.cccd_hash
    member_update(member=member, full_name="Nguyễn Văn Ân", phone="+84 912 000 111")
    member.refresh_from_db()
    assert (member.cccd_hash, member.phone) == (first, "+84912000111")
    member_update(member=member, cccd="")
    member.refresh_from_db()
    assert (member.cccd_hash, member.cccd_last4, member.cccd_key_id) == ("", "", "")


def test_membership_history_leaving_and_moving(hamlet, neighbour_commune):
    team = make_team(hamlet)
    other_hamlet = Hamlet.objects.create(
        commune=neighbour_commune, name="Khu phố 2", kind=HamletKind.QUARTER
    )
    other_team = make_team(other_hamlet)
    membership = enrol(team, joined_on=LONG_AGO)
    member = membership.member

    moved = member_move(member=member, team=other_team, role=MemberRole.DEPUTY)
    membership.refresh_from_db()
    member.refresh_from_db()
    assert membership.left_on == TODAY
    assert moved.team == other_team
    assert moved.joined_on == TODAY
    assert member.commune == neighbour_commune
    assert member.memberships.count() == 2

    membership_end(membership=moved)
    assert not Membership.objects.active().filter(member=member).exists()
    assert Membership.objects.active(on=LONG_AGO).get(member=member) == membership
    with pytest.raises(ValidationError, match="already ended"):
        membership_end(membership=moved)


def test_a_person_is_in_one_team_at_a_time(hamlet, other_hamlet):
    membership = enrol(make_team(hamlet))
    with pytest.raises(ValidationError, match="already in a team"):
        membership_start(member=membership.member, team=make_team(other_hamlet))


def test_leaving_before_joining_or_in_the_future_is_refused(hamlet):
    membership = enrol(make_team(hamlet))
    with pytest.raises(ValidationError, match="before the day they joined"):
        membership_end(membership=membership, left_on=TODAY - dt.timedelta(days=1))
    membership.refresh_from_db()
    with pytest.raises(ValidationError, match="future"):
        membership_end(membership=membership, left_on=TODAY + dt.timedelta(days=1))


def test_a_second_leader_is_refused_with_a_clear_message(hamlet):
    team = make_team(hamlet)
    leader = enrol(team, role=MemberRole.LEADER)
    with pytest.raises(ValidationError, match="already has a leader"):
        enrol(team, role=MemberRole.LEADER, full_name="Lê Văn Cường")
    # After the leader steps down, the deputy takes over.
    deputy = enrol(team, role=MemberRole.DEPUTY, full_name="Phạm Thị Dung", sex="female")
    member_move(member=leader.member, team=team, role=MemberRole.MEMBER)
    member_move(member=deputy.member, team=team, role=MemberRole.LEADER)
    assert Membership.objects.active().get(
        team=team, role=MemberRole.LEADER
    ) == Membership.objects.get(member=deputy.member, left_on__isnull=True)


def test_a_dissolved_team_takes_no_new_members(hamlet):
    team = make_team(hamlet, status=TeamStatus.DISSOLVED)
    with pytest.raises(ValidationError, match="dissolved"):
        enrol(team)


def test_the_database_itself_refuses_a_second_active_leader(hamlet):
    team = make_team(hamlet)
    enrol(team, role=MemberRole.LEADER)
    second = make_member(team.commune, full_name="Lê Văn Cường")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(member=second, team=team, role=MemberRole.LEADER)
    # An ended leadership does not count.
    Membership.objects.filter(team=team).update(left_on=TODAY)
    Membership.objects.create(member=second, team=team, role=MemberRole.LEADER)


def test_the_database_itself_refuses_two_active_memberships_and_backwards_dates(hamlet):
    team = make_team(hamlet)
    membership = enrol(team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(member=membership.member, team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(left_on=LONG_AGO.replace(year=2000))


def _all_text_in_the_database() -> str:
    """Every text value of every column of every table, joined."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            description = connection.introspection.get_table_description(cursor, table)
            columns = [connection.ops.quote_name(col.name) for col in description]
            cursor.execute(f"SELECT {', '.join(columns)} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                chunks.extend(str(value) for value in row if value is not None)
    return "\n".join(chunks)


def test_no_table_and_no_log_line_holds_a_full_cccd(hamlet, caplog):
    caplog.set_level(logging.DEBUG)
    team = make_team(hamlet)
    enrol(team, role=MemberRole.LEADER, cccd=CCCD_MAN_1985)
    member = make_member(team.commune, full_name="Trần Thị Bình", sex="female", birth_year=2001)
    member_update(member=member, cccd=CCCD_WOMAN_2001)
    with pytest.raises(ValidationError):
        make_member(team.commune, cccd=CCCD_MAN_1985.replace("085", "086"))
    with pytest.raises(ValidationError):
        make_member(team.commune, cccd=CCCD_MAN_1985)

    stored = _all_text_in_the_database()
    assert "3456" in stored  # the last four are there, so the scan does read the members
    for number in (CCCD_MAN_1985, CCCD_WOMAN_2001, "074086012345"):
        assert number not in stored
        assert number not in caplog.text
