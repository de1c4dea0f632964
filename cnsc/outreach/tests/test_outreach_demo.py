"""The outreach demo: households, residents, services and a year of visits in the demo roster's
wards, consistent with the teams there; the same people every time; a second run changes
nothing."""

from __future__ import annotations

import random

import pytest
from django.db.models import F

from cnsc.access.demo import demo_accounts_ensure
from cnsc.access.models import User
from cnsc.outreach.catalogue import State
from cnsc.outreach.demo import WARDS, Population, seed_outreach
from cnsc.outreach.models import (
    Household,
    Resident,
    ServiceEvent,
    ServiceState,
    Source,
    Visit,
)
from cnsc.team.demo import seed_binh_duong
from cnsc.team.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Built once for the module (it takes a few seconds), removed afterwards."""
    with django_db_blocker.unblock():
        from django.db import transaction

        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            demo_accounts_ensure()
            seed_binh_duong()
            first = seed_outreach()
            yield first
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def test_households_residents_and_visits_in_the_demo_wards(demo):
    assert demo.created
    households = Household.objects.filter(commune__code__in=WARDS)
    assert demo.households == households.count() > 500
    assert demo.residents == Resident.objects.filter(household__in=households).count()
    assert 2.5 < demo.residents / demo.households < 3.5
    assert demo.visits == Visit.objects.filter(commune__code__in=WARDS).count() > 400
    # Ward 25747 is the demo official's: they see its work.
    official = User.objects.get(username="xa")
    assert Household.objects.visible_to(official).exists()
    assert Visit.objects.visible_to(official).exists()


def test_households_are_covered_by_their_hamlets_team_and_visited_by_its_members(demo):
    households = Household.objects.filter(commune__code__in=WARDS)
    covered = households.filter(team__isnull=False)
    assert covered.count() > 0.9 * households.count()
    assert not covered.exclude(team__hamlet=F("hamlet")).exists()
    visits = Visit.objects.filter(commune__code__in=WARDS)
    assert not visits.exclude(team=F("household__team")).exists()
    for visit in visits.select_related("member")[:200]:
        assert Membership.objects.filter(
            member=visit.member, team=visit.team, joined_on__lte=visit.happened_at.date()
        ).exists()
    assert households.filter(head__isnull=False).count() == households.count()


def test_service_histories_come_from_the_list_and_the_visits(demo):
    events = ServiceEvent.objects.filter(resident__household__commune__code__in=WARDS)
    assert events.filter(source=Source.IMPORT).count() > 1000
    assert events.filter(source=Source.VISIT).count() > 100
    # Every state has the event that made it; a state without one is still "none" and only
    # holds a visit's result (the resident declined, was away, was not eligible).
    last: dict[tuple[int, str], str] = {}
    for resident_id, service, to_state in events.order_by("happened_at", "id").values_list(
        "resident_id", "service", "to_state"
    ):
        last[(resident_id, service)] = to_state
    states = ServiceState.objects.filter(resident__household__commune__code__in=WARDS)
    assert states.count() > 1000
    for resident_id, service, state, result in states.values_list(
        "resident_id", "service", "state", "last_result"
    ):
        if (resident_id, service) in last:
            assert last[(resident_id, service)] == state
        else:
            assert (state, bool(result)) == (State.NONE, True)


def test_residents_have_only_hashed_cccds(demo):
    residents = Resident.objects.filter(household__commune__code__in=WARDS)
    with_cccd = residents.exclude(cccd_hash="")
    assert with_cccd.count() > 0.4 * residents.count()
    assert all(len(r.cccd_last4) == 4 and len(r.cccd_hash) == 64 for r in with_cccd[:100])


def test_a_second_run_changes_nothing(demo):
    counts = (Household.objects.count(), Resident.objects.count(), Visit.objects.count())
    again = seed_outreach()
    assert not again.created
    assert (again.households, again.residents, again.visits) == (
        demo.households,
        demo.residents,
        demo.visits,
    )
    assert (Household.objects.count(), Resident.objects.count(), Visit.objects.count()) == counts


def test_the_same_seed_gives_the_same_people():
    first = Population(random.Random(7))
    second = Population(random.Random(7))
    for _ in range(50):
        assert first.household(2025) == second.household(2025)
