"""Households and residents through the services: codes, teams, heads, CCCDs, moves."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection

from cnsc.core.identity import CCCD_HOLDERS
from cnsc.geo.models import Hamlet, HamletKind
from cnsc.outreach.catalogue import Service, State
from cnsc.outreach.models import Relation, Resident, ResidentMove, ServiceState
from cnsc.outreach.services import (
    household_create,
    household_update,
    resident_create,
    resident_move,
    resident_update,
)
from cnsc.outreach.tests.factories import (
    CCCD_MAN_1960,
    CCCD_WOMAN_1990,
    done,
    make_head,
    make_household,
    make_resident,
    record,
)
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db


def test_a_household_takes_its_commune_from_the_hamlet_and_normalises_its_phone(team):
    household = household_create(
        hamlet=team.hamlet, team=team, code=" 0125 ", house_number="5A", phone="0912 345 678"
    )
    assert (household.commune, household.code, household.phone) == (
        team.commune,
        "0125",
        "+84912345678",
    )
    with pytest.raises(ValidationError) as error:
        household_create(hamlet=team.hamlet, code="0125")
    assert "has this code" in error.value.message_dict["code"][0]
    with pytest.raises(ValidationError, match="not a phone number"):
        household_create(hamlet=team.hamlet, phone="abc")
    with pytest.raises(ValidationError, match="outside Vietnam"):
        household_create(hamlet=team.hamlet, point=(48.85, 2.35))


def test_a_household_is_covered_by_a_team_of_its_commune_and_assigned_to_its_member(
    team, member, household, other_hamlet
):
    foreign_team = make_team(other_hamlet)
    with pytest.raises(ValidationError) as error:
        household_update(household=household, team=foreign_team)
    assert "another commune" in error.value.message_dict["team"][0]
    household.refresh_from_db()

    stranger = enrol(foreign_team, full_name="Đỗ Văn Lạ").member
    with pytest.raises(ValidationError) as error:
        household_update(household=household, assigned_member=stranger)
    assert "not a member" in error.value.message_dict["assigned_member"][0]

    household_update(household=household, assigned_member=member)
    assert household.assigned_member == member

    # Passing to another team of the commune drops the old team's member.
    second = make_team(
        Hamlet.objects.create(commune=team.commune, name="Khu phố 2", kind=HamletKind.QUARTER)
    )
    household_update(household=household, team=second)
    household.refresh_from_db()
    assert (household.team, household.assigned_member) == (second, None)


def test_a_retired_hamlet_takes_no_new_household(team):
    team.hamlet.retired_on = team.hamlet.created_on
    team.hamlet.save()
    with pytest.raises(ValidationError, match="retired"):
        household_create(hamlet=team.hamlet)


def test_the_head_follows_the_residents_relation_and_names_the_household(household):
    head = make_head(household, full_name="Nguyễn  Văn Tư")
    household.refresh_from_db()
    assert household.head == head
    assert household.search_name.startswith("nguyen van tu 12")
    with pytest.raises(ValidationError) as error:
        make_head(household, full_name="Người thứ hai")
    assert "already has a head" in error.value.message_dict["relation_to_head"][0]

    resident_update(resident=head, full_name="Nguyễn Văn Tứ")
    household.refresh_from_db()
    assert household.search_name.startswith("nguyen van tu 12")
    resident_update(resident=head, relation_to_head=Relation.PARENT)
    household.refresh_from_db()
    assert household.head is None


def test_a_cccd_is_kept_as_hash_and_last_four_only(household):
    resident = make_resident(
        household, full_name="Trần Thị Mai", sex="female", birth_year=1990, cccd=CCCD_WOMAN_1990
    )
    resident.refresh_from_db()
    assert resident.cccd_last4 == "4321"
    assert len(resident.cccd_hash) == 64
    assert CCCD_WOMAN_1990 not in resident.cccd_hash
    with pytest.raises(ValidationError) as error:
        make_resident(
            household, full_name="Bản sao", sex="female", birth_year=1990, cccd=CCCD_WOMAN_1990
        )
    assert "already registered" in error.value.message_dict["cccd"][0]
    with pytest.raises(ValidationError) as error:
        make_resident(
            household, full_name="Sai năm", sex="male", birth_year=1961, cccd=CCCD_MAN_1960
        )
    assert "year of birth" in error.value.message_dict["cccd"][0]
    assert CCCD_MAN_1960 not in str(error.value)
    resident_update(resident=resident, cccd="")
    resident.refresh_from_db()
    assert (resident.cccd_hash, resident.cccd_last4, resident.cccd_key_id) == ("", "", "")


def test_no_full_cccd_is_stored_anywhere(household):
    make_resident(
        household, full_name="Lê Văn Sáu", sex="male", birth_year=1960, cccd=CCCD_MAN_1960
    )
    for model in apps.get_app_config("outreach").get_models():
        table = model._meta.db_table
        columns = [f.column for f in model._meta.concrete_fields]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
            for row in cursor.fetchall():
                assert not any(CCCD_MAN_1960 in str(value) for value in row), table


def test_residents_are_re_keyed_with_members():
    assert any(holder.model is Resident for holder in CCCD_HOLDERS)


def test_bad_resident_data_is_refused_with_every_problem_at_once(household):
    with pytest.raises(ValidationError) as error:
        resident_create(
            household=household, full_name=" ", birth_year=1850, relation_to_head="boss"
        )
    assert set(error.value.message_dict) == {"full_name", "birth_year", "relation_to_head"}
    assert not Resident.objects.exists()


def test_a_move_keeps_the_history_and_the_persons_services(official, team, member, household):
    head = make_head(household, full_name="Nguyễn Văn Tư")
    record(member, household, [done(head)])
    new_home = make_household(team, house_number="30", street="Hẻm 7")
    move = resident_move(
        resident=head, to_household=new_home, relation_to_head=Relation.HEAD, by=official
    )
    head.refresh_from_db()
    household.refresh_from_db()
    new_home.refresh_from_db()
    assert head.household == new_home
    assert (household.head, new_home.head) == (None, head)
    assert (move.from_household, move.to_household, move.by) == (household, new_home, official)
    assert list(head.moves.all()) == [move]
    assert ServiceState.objects.get(resident=head, service=Service.VNEID).state == State.LEVEL2
    assert [h.household_id for h in head.history.order_by("history_date")][-2:] == [
        household.pk,
        new_home.pk,
    ]
    with pytest.raises(ValidationError, match="already lives"):
        resident_move(resident=head, to_household=new_home)
    assert ResidentMove.objects.count() == 1
