from __future__ import annotations

import datetime as dt

import pytest

from cnsc.dashboard.periods import (
    Horizon,
    PeriodError,
    PeriodType,
    parse_period,
    period_containing,
    periods_between,
)


@pytest.mark.parametrize(
    ("code", "type_", "start", "end"),
    [
        ("20261130", PeriodType.DAY, dt.date(2026, 11, 30), dt.date(2026, 11, 30)),
        ("2026W48", PeriodType.WEEK, dt.date(2026, 11, 23), dt.date(2026, 11, 29)),
        ("2026W1", PeriodType.WEEK, dt.date(2025, 12, 29), dt.date(2026, 1, 4)),
        ("202611", PeriodType.MONTH, dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        ("202402", PeriodType.MONTH, dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("2026Q4", PeriodType.QUARTER, dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        ("2026", PeriodType.YEAR, dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    ],
)
def test_dhis2_codes_parse_and_print_back(code, type_, start, end):
    period = parse_period(code)
    assert (period.type, period.start, period.end, period.code) == (type_, start, end, code)


def test_a_zero_padded_week_reads_as_dhis2_writes_it():
    assert parse_period("2026w05").code == "2026W5"


@pytest.mark.parametrize(
    "code", ["", "2026-11", "20261131", "2026W54", "2025W53", "2026Q5", "1999", "21011", "abc"]
)
def test_nonsense_is_refused(code):
    with pytest.raises(PeriodError):
        parse_period(code)


def test_periods_step_across_years():
    assert [p.code for p in periods_between(parse_period("202511"), parse_period("202602"))] == [
        "202511",
        "202512",
        "202601",
        "202602",
    ]
    assert parse_period("2026W1").previous().code == "2025W52"
    assert period_containing(PeriodType.QUARTER, dt.date(2026, 12, 31)).next().code == "2027Q1"


def test_the_horizon_keeps_months_from_the_start_and_recent_weeks_and_days():
    keep = Horizon(since=dt.date(2025, 1, 1), weeks=2, days=3, today=dt.date(2026, 1, 7))
    codes = {p.code for p in keep.periods()}
    assert {"2025", "2026", "2025Q1", "2026Q1", "202501", "202601"} <= codes
    assert {"2026W1", "2026W2", "20260105", "20260106", "20260107"} <= codes
    assert "2025W52" not in codes
    assert "20260104" not in codes
    assert not keep.keeps(parse_period("20260104"))
    assert keep.keeps(parse_period("202402")) is False
