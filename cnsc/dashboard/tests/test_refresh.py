"""Freshness: what is recorded reaches the figures at the next refresh (every minute), without
recomputing the communes nothing happened in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from cnsc.dashboard import indicators as ind
from cnsc.dashboard.models import IndicatorValue, RefreshState
from cnsc.dashboard.periods import PeriodType, period_containing
from cnsc.dashboard.services import indicators_recompute, indicators_refresh
from cnsc.dashboard.units import resolve
from cnsc.outreach.catalogue import Result, Service
from cnsc.outreach.models import VisitSource
from cnsc.outreach.services import OutcomeIn, visit_record
from cnsc.team.models import Membership, Target

pytestmark = pytest.mark.django_db


def figure(code: str, indicator: str, period: str) -> IndicatorValue | None:
    ref = resolve(code)
    assert ref is not None
    return IndicatorValue.objects.filter(
        unit_type=ref.type, unit_id=ref.id, indicator=indicator, period=period
    ).first()


def this_month() -> str:
    return period_containing(PeriodType.MONTH, timezone.localdate()).code


def today() -> str:
    return period_containing(PeriodType.DAY, timezone.localdate()).code


def record_visit(w, key: str = "fresh") -> None:
    visit_record(
        member=w.members["m1"],
        household=w.households["hh1"],
        happened_at=timezone.now() - dt.timedelta(minutes=5),
        outcomes=[OutcomeIn(resident=w.residents["r3"], service=Service.VNEID, result=Result.DONE)],
        idempotency_key=f"test:{key}",
        source=VisitSource.BOT,
    )


def test_a_visit_is_in_the_figures_after_the_next_refresh(built):
    month, day = this_month(), today()
    assert figure("25747", ind.VISITS, month) is None
    vneid_before = figure("25747", ind.VNEID_LEVEL2, month)
    assert vneid_before is not None
    neighbour_before = figure("25750", ind.HAMLETS_WITH_TEAM, month)
    assert neighbour_before is not None

    record_visit(built)
    result = indicators_refresh()

    assert result.mode == "incremental"
    assert result.communes == 1
    for code in ("25747", "79", "F25747", "F718", "F74"):
        for period in (day, month):
            row = figure(code, ind.VISITS, period)
            assert row is not None, (code, period)
            assert row.numerator == 1
    hamlet_a = IndicatorValue.objects.get(
        unit_type="hamlet", unit_id=built.hamlets["A"].pk, indicator=ind.VISITS, period=month
    )
    assert hamlet_a.numerator == 1
    # r3 reached level 2 through the visit.
    vneid_after = figure("25747", ind.VNEID_LEVEL2, month)
    assert vneid_after.numerator == vneid_before.numerator + 1
    assert vneid_after.computed_at > vneid_before.computed_at
    # Nothing happened in Phú Lợi: its figures were not recomputed.
    neighbour_after = figure("25750", ind.HAMLETS_WITH_TEAM, month)
    assert neighbour_after.computed_at == neighbour_before.computed_at


def test_a_refresh_with_nothing_new_changes_nothing(built):
    before = set(IndicatorValue.objects.values_list("id", "numerator", "computed_at"))
    result = indicators_refresh()
    assert result.mode == "idle"
    assert set(IndicatorValue.objects.values_list("id", "numerator", "computed_at")) == before


def test_the_command_run_twice_changes_no_figure_the_second_time(built, capsys):
    record_visit(built)
    call_command("refresh_indicators")
    after_first = set(
        IndicatorValue.objects.values_list(
            "unit_type", "unit_id", "indicator", "period", "numerator", "denominator", "value"
        )
    )
    call_command("refresh_indicators")
    assert "incremental" in capsys.readouterr().out
    assert figure("79", ind.VISITS, this_month()).numerator == 1
    assert (
        set(
            IndicatorValue.objects.values_list(
                "unit_type", "unit_id", "indicator", "period", "numerator", "denominator", "value"
            )
        )
        == after_first
    )


def test_a_member_leaving_today_leaves_the_current_figures(built):
    month = this_month()
    before = figure("25747", ind.MEMBERS, month).numerator
    membership = Membership.objects.get(member=built.members["m3"])
    membership.left_on = timezone.localdate()
    membership.save()  # through the model, as the roster services do: it leaves a history row
    indicators_refresh()
    assert figure("25747", ind.MEMBERS, month).numerator == before - 1


def test_a_new_target_becomes_the_denominator(built):
    year = timezone.localdate().year
    assert figure("79", ind.MEMBERS, str(year)).denominator is None
    Target.objects.create(unit=resolve_unit("79"), year=year, members=6, teams=3)
    indicators_refresh()
    row = figure("79", ind.MEMBERS, str(year))
    assert row.denominator == 6
    assert row.value == pytest.approx(100 * row.numerator / 6)


def resolve_unit(code: str):
    from cnsc.geo.models import AdminUnit

    ref = resolve(code)
    return AdminUnit.objects.get(pk=ref.id)


def test_a_new_day_starts_the_new_periods_everywhere(built):
    tomorrow_moment = timezone.now() + dt.timedelta(days=1)
    tomorrow = period_containing(PeriodType.DAY, timezone.localdate(tomorrow_moment)).code
    assert figure("25750", ind.HAMLETS_WITH_TEAM, tomorrow) is None
    result = indicators_refresh(now=tomorrow_moment)
    assert result.communes is None
    assert figure("25750", ind.HAMLETS_WITH_TEAM, tomorrow) is not None


def test_the_first_refresh_computes_everything(db):
    from . import world

    world.build()
    assert not RefreshState.objects.exists()
    result = indicators_refresh()
    assert result.mode == "full"
    assert figure("79", ind.VISITS, "2025").numerator == 6


def test_recompute_drops_figures_of_periods_no_longer_kept(built, settings):
    old_day = IndicatorValue.objects.filter(period_type=PeriodType.DAY).order_by("period_start")
    first = old_day.first().period
    settings.INDICATORS_DAYS = 2
    indicators_recompute()
    assert not IndicatorValue.objects.filter(period=first).exists()
    assert (
        IndicatorValue.objects.filter(period_type=PeriodType.DAY)
        .values("period")
        .distinct()
        .count()
        == 2
    )


def test_a_refresh_gives_the_figures_a_full_recompute_gives(built):
    """The refresh counts stocks from yesterday's stored figures plus the changes since; the
    full recompute from every change since the beginning. They must agree."""
    from cnsc.outreach.catalogue import State
    from cnsc.outreach.services import household_create, resident_create, service_state_set

    w = built
    record_visit(w, "agree")
    household = household_create(hamlet=w.hamlets["A"], house_number="99", team=w.teams["A"])
    resident_create(household=household, full_name="Cư dân mới", birth_year=1950,
                    welfare_beneficiary=True)  # fmt: skip
    resident_create(household=household, full_name="Cư dân trẻ", birth_year=2012)
    ten_days_ago = timezone.now() - dt.timedelta(days=10)
    service_state_set(
        resident=w.residents["r5"], service=Service.VNEID, state=State.LEVEL2, by=None,
        happened_at=ten_days_ago,
    )  # fmt: skip
    service_state_set(
        resident=w.residents["r6"], service=Service.VNEID, state=State.LEVEL1, by=None,
        allow_backward=True,
    )  # fmt: skip
    result = indicators_refresh()
    assert result.mode == "incremental"
    assert result.base == timezone.localdate(ten_days_ago) - dt.timedelta(days=1)

    def figures():
        return set(
            IndicatorValue.objects.values_list(
                "indicator", "unit_type", "unit_id", "period", "numerator", "denominator"
            )
        )

    refreshed = figures()
    indicators_recompute()
    recomputed = figures()
    assert refreshed == recomputed
    # And the changes are in them: the late change ten days ago reached that day's figure.
    day = period_containing(PeriodType.DAY, timezone.localdate(ten_days_ago)).code
    assert figure("25747", ind.VNEID_LEVEL2, day).numerator >= 3


def test_a_refresh_right_after_one_recomputes_nothing_again(built):
    """Each run also looks CLOCK_SKEW behind its watermark; what it finds there was counted by
    the run before if it was there when that run began."""
    record_visit(built)
    assert indicators_refresh().mode == "incremental"
    before = set(IndicatorValue.objects.values_list("id", "numerator", "computed_at"))
    again = indicators_refresh()
    assert again.mode == "idle"
    assert set(IndicatorValue.objects.values_list("id", "numerator", "computed_at")) == before
    # Right after a full recompute too.
    indicators_recompute()
    assert indicators_refresh().mode == "idle"


def test_a_row_stamped_before_the_watermark_but_arriving_after_the_run_is_counted(built):
    """A web server whose clock lags, or a transaction that commits late: the visit is stamped
    a few seconds before the last run's watermark and reaches the table after that run."""
    from cnsc.outreach.models import Household, Resident, ServiceEvent, Visit

    assert indicators_refresh().mode == "idle"
    watermark = RefreshState.objects.get().watermark
    record_visit(built, "late")
    late = watermark - dt.timedelta(seconds=5)
    for rows, stamp in (
        (Visit.objects, "recorded_at"),
        (ServiceEvent.objects, "recorded_at"),
        (Visit.history, "history_date"),
        (Household.history, "history_date"),
        (Resident.history, "history_date"),
    ):
        rows.filter(**{f"{stamp}__gt": late}).update(**{stamp: late})
    result = indicators_refresh()
    assert result.mode == "incremental"
    assert figure("25747", ind.VISITS, this_month()).numerator == 1
