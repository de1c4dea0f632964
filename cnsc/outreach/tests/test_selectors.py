"""What the bot shows a volunteer: worklists, households not visited lately, search."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cnsc.outreach.catalogue import Result, Service, State
from cnsc.outreach.models import Household
from cnsc.outreach.selectors import (
    household_residents,
    household_search,
    households_not_visited_since,
    worklist_for_member,
    worklist_for_team,
)
from cnsc.outreach.services import OutcomeIn, household_update
from cnsc.outreach.tests.factories import done, make_head, make_household, make_resident, record
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db

THIS_YEAR = timezone.localdate().year


@pytest.fixture
def street(team, member):
    """Six households whose order on the worklist is known:

    - big: never visited, three adults with nothing yet: 6 open items;
    - half: visited 3 days ago, one adult with VNeID level 2, no payment account: 1;
    - stale: visited 9 days ago, one adult at VNeID level 1 found not eligible for a payment
      account: 1, before "half" (equal work: the longest unvisited first);
    - empty: never visited, no residents known: 0, listed (last) because never visited;
    - done: visited, every adult at level 2 with an account: not listed;
    - child: visited, only a 10-year-old: nothing counts yet, not listed.
    """
    now = timezone.now()
    homes = {
        name: make_household(team, house_number=str(i), street="Đường Số 1")
        for i, name in enumerate(["big", "half", "stale", "empty", "done", "child"], start=1)
    }
    for i in range(3):
        make_resident(homes["big"], full_name=f"Người lớn {i}", birth_year=1970 + i)
    half = make_head(homes["half"], full_name="Trần Văn Nửa")
    record(member, homes["half"], [done(half)], happened_at=now - dt.timedelta(days=3))
    stale = make_head(homes["stale"], full_name="Lý Thị Cũ", sex="female")
    record(
        member,
        homes["stale"],
        [
            OutcomeIn(
                resident=stale, service=Service.VNEID, result=Result.STARTED, new_state=State.LEVEL1
            ),
            OutcomeIn(resident=stale, service=Service.PAYMENT, result=Result.NOT_ELIGIBLE),
        ],
        happened_at=now - dt.timedelta(days=9),
    )
    finished = make_head(homes["done"], full_name="Hoàng Văn Xong")
    record(
        member,
        homes["done"],
        [done(finished), done(finished, Service.PAYMENT)],
        happened_at=now - dt.timedelta(days=1),
    )
    kid = make_resident(homes["child"], full_name="Bé Na", birth_year=THIS_YEAR - 10)
    record(
        member,
        homes["child"],
        [done(kid, Service.DIGITAL_SKILLS)],
        happened_at=now - dt.timedelta(days=40),
        source="import",
    )
    return homes


def test_the_team_worklist_puts_the_most_work_first(team, street):
    worklist = worklist_for_team(team=team)
    assert [h.pk for h in worklist] == [street[n].pk for n in ("big", "stale", "half", "empty")]
    assert [h.open_items for h in worklist] == [6, 1, 1, 0]
    big = worklist[0]
    assert (big.open_vneid, big.open_payment) == (3, 3)


def test_equal_work_goes_to_the_longest_unvisited_first(team, street):
    worklist = worklist_for_team(team=team)
    ones = [h for h in worklist if h.open_items == 1]
    assert [h.pk for h in ones] == [street["stale"].pk, street["half"].pk]


def test_the_worklist_pages(team, street):
    first = worklist_for_team(team=team, limit=2)
    second = worklist_for_team(team=team, limit=2, offset=2)
    assert [h.pk for h in first + second] == [h.pk for h in worklist_for_team(team=team)]


def test_a_members_worklist_has_their_households_first_and_not_a_colleagues(team, member, street):
    colleague = enrol(team, full_name="Võ Văn Kiệt").member
    household_update(household=street["half"], assigned_member=member)
    household_update(household=street["big"], assigned_member=colleague)
    mine = worklist_for_member(member=member)
    assert [h.pk for h in mine] == [street[n].pk for n in ("half", "stale", "empty")]
    assert (
        worklist_for_member(member=enrol(make_team(team.hamlet, code="OTHER", name="Tổ 2")).member)
        == []
    )


def test_a_member_in_no_team_has_no_worklist(team, member, street):
    from cnsc.team.services import membership_end

    membership_end(membership=member.memberships.get())
    assert worklist_for_member(member=member) == []
    assert household_search(member=member, text="1") == []


def test_households_not_visited_for_n_days(team, street):
    never = {street["big"].pk, street["empty"].pk}
    week = [h.pk for h in households_not_visited_since(team=team, days=7)]
    assert set(week[:2]) == never  # never visited first (by code), then the longest ago
    assert week[2:] == [street["child"].pk, street["stale"].pk]
    month = [h.pk for h in households_not_visited_since(team=team, days=30)]
    assert set(month[:2]) == never
    assert month[2:] == [street["child"].pk]


def test_worklists_take_a_fixed_number_of_queries(team, member, street, django_assert_num_queries):
    with django_assert_num_queries(1):
        shown = [(str(h.head), h.hamlet.name) for h in worklist_for_team(team=team)]
    assert len(shown) == 4
    with django_assert_num_queries(2):  # the member's team, then the list
        worklist_for_member(member=member)
    with django_assert_num_queries(1):  # the caller knows the team
        assert len(worklist_for_member(member=member, team=team)) == 4


def test_search_by_name_without_diacritics_by_code_and_by_number(
    team, member, street, other_hamlet
):
    assert [h.pk for h in household_search(member=member, text="tran van nua")] == [
        street["half"].pk
    ]
    assert [h.pk for h in household_search(member=member, text="Lý thị")] == [street["stale"].pk]
    code = street["big"].code
    assert household_search(member=member, text=code.lower())[0].pk == street["big"].pk
    foreign = make_household(make_team(other_hamlet), house_number="1")
    make_head(foreign, full_name="Trần Văn Nửa")
    assert foreign.pk not in {h.pk for h in household_search(member=member, text="tran van nua")}
    assert household_search(member=member, text="   ") == []


def test_household_residents_lists_the_head_first_with_every_service(street):
    home = street["half"]
    make_resident(home, full_name="Con", birth_year=2005)
    residents = household_residents(household=home)
    assert residents[0].pk == Household.objects.get(pk=home.pk).head_id
    assert residents[0].states[Service.VNEID] == State.LEVEL2
    assert residents[0].states[Service.PAYMENT] == State.NONE
    assert residents[1].states == dict.fromkeys(residents[1].states, State.NONE)
