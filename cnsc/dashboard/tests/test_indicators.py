"""Each indicator on the hand-built world (world.py), against figures worked out by hand.

The expected numbers were written down from the world's description before anything was
computed; the reasoning is beside each. (num, den) pairs; den None for counts and for
"against target" figures of units without a target.
"""

from __future__ import annotations

import pytest

from cnsc.dashboard import indicators as ind
from cnsc.dashboard.models import IndicatorValue
from cnsc.dashboard.services import indicators_recompute
from cnsc.dashboard.units import resolve

from . import world

pytestmark = pytest.mark.django_db

H, N, P = "25747", "25750", "79"

EXPECTED: dict[tuple[str, str, str], tuple[int, int | None]] = {
    # Hamlets with an active team. December: A (team A) and B (team B founded 10/12) count;
    # D was retired on 15/11; C's team was dissolved on 20/12.
    (ind.HAMLETS_WITH_TEAM, H, "202512"): (2, 2),
    (ind.HAMLETS_WITH_TEAM, N, "202512"): (0, 1),
    (ind.HAMLETS_WITH_TEAM, P, "202512"): (2, 3),
    (ind.HAMLETS_WITH_TEAM, "F718", "202512"): (2, 3),  # D has no former commune
    # November: B's team not yet founded, C's not yet dissolved.
    (ind.HAMLETS_WITH_TEAM, H, "202511"): (1, 2),
    (ind.HAMLETS_WITH_TEAM, N, "202511"): (1, 1),
    (ind.HAMLETS_WITH_TEAM, P, "202511"): (2, 3),
    # Teams against target: A, B and the organisation's team O; the city plans 4 for 2025,
    # Bình Dương's old plan 3 (its hamlet teams A and B only).
    (ind.TEAMS, H, "202512"): (3, None),
    (ind.TEAMS, P, "202512"): (3, 4),
    (ind.TEAMS, "F74", "2025"): (2, 3),
    (ind.TEAMS, N, "202511"): (1, None),
    # Members at the end of December: m1 (A), m3 (B), m4 (O); m2 and m5 have left.
    (ind.MEMBERS, H, "202512"): (3, None),
    (ind.MEMBERS, P, "202512"): (3, 10),
    (ind.MEMBERS, "F74", "202512"): (2, 8),  # m4's organisation team has no hamlet
    (ind.MEMBERS, P, "202511"): (4, 10),
    # Households visited at least once, of those on the list: hh3's first visit was 30 minutes
    # after midnight on 1/1/2026; hh5 was listed on 10/1/2026.
    (ind.HOUSEHOLDS_VISITED, H, "202512"): (3, 4),
    (ind.HOUSEHOLDS_VISITED, N, "202512"): (1, 1),
    (ind.HOUSEHOLDS_VISITED, P, "202512"): (4, 5),
    (ind.HOUSEHOLDS_VISITED, H, "202511"): (1, 4),
    (ind.HOUSEHOLDS_VISITED, P, "202511"): (2, 5),
    (ind.HOUSEHOLDS_VISITED, H, "202601"): (5, 5),
    # Level-2 VNeID among residents aged 14+: r1, r3 (14 in 2025), r4, r5 in Thủ Dầu Một; r4
    # went back to level 1 on 15/12; r2 turns 14 in 2026; r7 was listed in 2026.
    (ind.VNEID_LEVEL2, H, "202512"): (1, 4),
    (ind.VNEID_LEVEL2, N, "202512"): (1, 1),
    (ind.VNEID_LEVEL2, P, "202512"): (2, 5),
    (ind.VNEID_LEVEL2, H, "202511"): (1, 4),  # r4, before going back
    (ind.VNEID_LEVEL2, H, "202601"): (3, 6),  # r1, r2 (now 14), r7 (now listed)
    # Payment accounts among residents aged 15+: r1, r4, r5 (r3 turns 15 in 2026).
    (ind.PAYMENT_ACCOUNT, H, "202512"): (2, 3),
    (ind.PAYMENT_ACCOUNT, P, "202512"): (3, 4),
    (ind.PAYMENT_ACCOUNT, H, "202511"): (1, 3),
    (ind.PAYMENT_ACCOUNT, H, "202601"): (2, 5),
    # Welfare paid through an account: beneficiaries r4 (paid from 11/12) and r5.
    (ind.WELFARE_ACCOUNT, H, "202512"): (1, 2),
    (ind.WELFARE_ACCOUNT, H, "202511"): (0, 2),
    (ind.WELFARE_ACCOUNT, P, "202512"): (1, 2),
    # Signatures issued: r1 and r5 in December, r6 in October.
    (ind.SIGNATURES_ISSUED, H, "202512"): (2, None),
    (ind.SIGNATURES_ISSUED, N, "202510"): (1, None),
    (ind.SIGNATURES_ISSUED, P, "2025Q4"): (3, None),
    (ind.SIGNATURES_ISSUED, P, "2025"): (3, None),
    # Residents who passed a session in December: RA1 and RA3 (first), RA4 (second); RA1
    # passed twice and counts once; RA2 did not pass.
    (ind.RESIDENTS_TRAINED, H, "202512"): (3, None),
    (ind.RESIDENTS_TRAINED, P, "202512"): (3, None),
    # Visits: v1, v2, v4 and v7 (23:30 on 31/12) in December; v6 and v8 in January.
    (ind.VISITS, H, "202512"): (4, None),
    (ind.VISITS, P, "202512"): (4, None),
    (ind.VISITS, H, "202601"): (2, None),
    (ind.VISITS, P, "2025"): (6, None),
    (ind.VISITS, N, "2025"): (1, None),
    # Members active (a visit in the month) among those in a team at its end.
    (ind.ACTIVE_MEMBERS, H, "202512"): (2, 3),  # m1, m3; not m4
    (ind.ACTIVE_MEMBERS, H, "202511"): (1, 3),  # m2; not m1, m4
    (ind.ACTIVE_MEMBERS, N, "202511"): (0, 1),  # m5 visited in October
    (ind.ACTIVE_MEMBERS, P, "202511"): (1, 4),
}

# Hamlets, teams and former units, by their key in the world.
EXPECTED_LOCAL: dict[tuple[str, str, str], tuple[int, int | None]] = {
    (ind.HAMLETS_WITH_TEAM, "hamlet:A", "202512"): (1, 1),
    (ind.HAMLETS_WITH_TEAM, "hamlet:C", "202512"): (0, 1),
    (ind.HOUSEHOLDS_VISITED, "hamlet:A", "202512"): (2, 3),
    (ind.HOUSEHOLDS_VISITED, "team:A", "202512"): (2, 3),
    (ind.HOUSEHOLDS_VISITED, "team:B", "202512"): (1, 1),
    (ind.VNEID_LEVEL2, "hamlet:A", "202601"): (2, 3),
    (ind.VNEID_LEVEL2, "hamlet:B", "202601"): (1, 3),
    (ind.WELFARE_ACCOUNT, "hamlet:B", "202512"): (1, 2),
    (ind.MEMBERS, "team:A", "202512"): (1, None),
    (ind.MEMBERS, "team:O", "202512"): (1, None),
    (ind.VISITS, "team:A", "202512"): (3, None),
    (ind.VISITS, "team:B", "202512"): (1, None),
    (ind.VISITS, "hamlet:A", "202512"): (3, None),
    (ind.VISITS, "hamlet:B", "202601"): (1, None),  # v6: team A's member in hamlet B
    (ind.VISITS, "team:A", "202601"): (2, None),
    (ind.ACTIVE_MEMBERS, "team:A", "202512"): (1, 1),
    (ind.ACTIVE_MEMBERS, "team:O", "202512"): (0, 1),
    # Session 1 was in hamlet A, given by team A alone; session 2 by two teams, at the ward.
    (ind.RESIDENTS_TRAINED, "hamlet:A", "202512"): (2, None),
    (ind.RESIDENTS_TRAINED, "team:A", "202512"): (2, None),
    # Former communes: A was in Phú Cường, B in Phú Thọ, C in Phú Hòa; all in district 718.
    (ind.VISITS, "F25747", "202512"): (3, None),
    (ind.VISITS, "F25753", "202512"): (1, None),
    (ind.VISITS, "F718", "202512"): (4, None),
    (ind.VISITS, "F74", "202512"): (4, None),
    (ind.VISITS, "F25750", "2025"): (1, None),
    (ind.HOUSEHOLDS_VISITED, "F718", "202512"): (4, 5),
}


def figure(code: str, indicator: str, period: str, w: world.World | None = None):
    if ":" in code:
        kind, key = code.split(":")
        obj = (w.hamlets if kind == "hamlet" else w.teams)[key]  # type: ignore[union-attr]
        unit_type, unit_id = kind, obj.pk
    else:
        ref = resolve(code)
        assert ref is not None, code
        unit_type, unit_id = ref.type, ref.id
    row = IndicatorValue.objects.filter(
        unit_type=unit_type, unit_id=unit_id, indicator=indicator, period=period
    ).first()
    return None if row is None else row


def test_every_indicator_has_a_hand_worked_figure():
    covered = {key[0] for key in EXPECTED} | {key[0] for key in EXPECTED_LOCAL}
    assert covered == set(ind.INDICATORS)


@pytest.mark.parametrize(("indicator", "code", "period"), list(EXPECTED))
def test_figures_of_current_units(built, indicator, code, period):
    num, den = EXPECTED[(indicator, code, period)]
    row = figure(code, indicator, period)
    if num == 0 and not den:
        assert row is None, "a zero over nothing is not stored"
        return
    assert row is not None
    assert (row.numerator, row.denominator) == (num, den)
    if ind.INDICATORS[indicator].is_percent:
        assert row.value == (pytest.approx(100 * num / den) if den else None)
    else:
        assert row.value == num


@pytest.mark.parametrize(("indicator", "code", "period"), list(EXPECTED_LOCAL))
def test_figures_of_hamlets_teams_and_former_units(built, indicator, code, period):
    num, den = EXPECTED_LOCAL[(indicator, code, period)]
    row = figure(code, indicator, period, built)
    assert row is not None
    assert (row.numerator, row.denominator) == (num, den)


def test_zero_counts_are_not_stored(built):
    # Phú Lợi's only team was dissolved on 20/12: no member, no visit in December.
    assert figure(N, ind.MEMBERS, "202512") is None
    assert figure(N, ind.VISITS, "202512") is None
    assert figure(N, ind.WELFARE_ACCOUNT, "202512") is None  # no beneficiaries at all


def test_teams_get_no_hamlet_figures(built):
    assert not IndicatorValue.objects.filter(
        unit_type="team", indicator__in=[ind.HAMLETS_WITH_TEAM, ind.TEAMS]
    ).exists()


def test_recompute_twice_gives_the_same_figures(built):
    def snapshot():
        return set(
            IndicatorValue.objects.values_list(
                "indicator", "unit_type", "unit_id", "period", "numerator", "denominator"
            )
        )

    first = snapshot()
    indicators_recompute()
    assert snapshot() == first
    assert len(first) > 100


def test_each_figure_says_when_it_was_computed(built):
    times = set(IndicatorValue.objects.values_list("computed_at", flat=True))
    assert len(times) == 1


# Days and ISO weeks, computed as on 31 January 2026 with 60 days kept (so every day from 2
# December 2025 has its figures). Worked out from world.py before computing, like the above.
EXPECTED_DAYS_AND_WEEKS: dict[tuple[str, str, str], tuple[int, int | None]] = {
    # v2 on 20/12; v7 at 23:30 on 31/12 and v8 at 00:30 on 1/1, each on its own local day.
    (ind.VISITS, H, "20251220"): (1, None),
    (ind.VISITS, H, "20251231"): (1, None),
    (ind.VISITS, H, "20260101"): (1, None),
    # ISO week 1 of 2026 runs from Monday 29/12/2025 to Sunday 4/1/2026: v7 and v8.
    (ind.VISITS, H, "2026W1"): (2, None),
    (ind.VISITS, P, "2026W1"): (2, None),
    (ind.VISITS, "F718", "2026W1"): (2, None),
    (ind.VISITS, H, "2025W51"): (1, None),  # 15-21/12: v2
    (ind.SIGNATURES_ISSUED, H, "2025W51"): (1, None),  # r1 on 20/12
    # r4 had level 2 until 14/12 and went back to level 1 on 15/12; r1 has had it since 3/12.
    # Aged 14+ in 2025: r1, r3, r4, r5.
    (ind.VNEID_LEVEL2, H, "20251214"): (2, 4),
    (ind.VNEID_LEVEL2, H, "20251215"): (1, 4),
    # At the end of 2026W1 (4/1/2026): r1 and r2 (14 in 2026) of r1, r2, r3, r4, r5; r7 is
    # not listed until 10/1.
    (ind.VNEID_LEVEL2, H, "2026W1"): (2, 5),
    # Listed by 28/12 (end of 2025W52): hh1-hh4; visited: hh1, hh2, hh4. hh3 on 1/1.
    (ind.HOUSEHOLDS_VISITED, H, "2025W52"): (3, 4),
    (ind.HOUSEHOLDS_VISITED, H, "20260101"): (4, 4),
    # m1 visited in 2026W1; m1, m3 and m4 were in a team on 4/1 (m2 left on 15/12).
    (ind.ACTIVE_MEMBERS, H, "2026W1"): (1, 3),
}


def test_figures_of_days_and_iso_weeks(db, settings):
    import datetime as dt

    settings.INDICATORS_DAYS = 60
    world.build()
    indicators_recompute(now=dt.datetime(2026, 1, 31, 12, tzinfo=world.TZ))
    for (indicator, code, period), expected in EXPECTED_DAYS_AND_WEEKS.items():
        row = figure(code, indicator, period)
        assert row is not None, (indicator, code, period)
        assert (row.numerator, row.denominator) == expected, (indicator, code, period)
    week = IndicatorValue.objects.filter(period="2026W1").first()
    assert week is not None
    assert (week.period_type, str(week.period_start)) == ("week", "2025-12-29")


def test_names_and_column_headings_come_in_both_languages():
    from django.utils import translation

    for indicator in ind.CATALOGUE:
        with translation.override("en"):
            english = (indicator.label(), indicator.short_label())
        with translation.override("vi"):
            vietnamese = (indicator.label(), indicator.short_label())
        assert english[0] != vietnamese[0], indicator.code
        assert english[1] != vietnamese[1] or english[1] == "VNeID", indicator.code
        assert indicator.name_vi == vietnamese[0]
    with translation.override("vi"):
        assert ind.INDICATORS[ind.TEAMS].label() == "Số Tổ CNSC so với kế hoạch"
        assert ind.INDICATORS[ind.RESIDENTS_TRAINED].short_label() == "Người dân tập huấn"
