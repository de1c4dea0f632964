"""Periods in DHIS2's notation, so other systems take our figures as they are.

    day      20261130   (yyyyMMdd)
    week     2026W48    (ISO week, yyyyWn: DHIS2 writes the week number without a leading zero)
    month    202611     (yyyyMM)
    quarter  2026Q4     (yyyyQn)
    year     2026       (yyyy)

The five formats cannot be mistaken for one another, so a period code alone says its type.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodType(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


# Finest first: the order the period selector offers them in.
PERIOD_TYPES = (
    PeriodType.DAY,
    PeriodType.WEEK,
    PeriodType.MONTH,
    PeriodType.QUARTER,
    PeriodType.YEAR,
)

_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WEEK = re.compile(r"(\d{4})W(\d{1,2})")
_MONTH = re.compile(r"(\d{4})(\d{2})")
_QUARTER = re.compile(r"(\d{4})Q([1-4])")
_YEAR = re.compile(r"(\d{4})")
MIN_YEAR, MAX_YEAR = 2000, 2100


class PeriodError(ValueError):
    """A period code that does not parse, or a date outside the years we accept."""


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    type: str
    end: dt.date

    @property
    def code(self) -> str:
        if self.type == PeriodType.DAY:
            return self.start.strftime("%Y%m%d")
        if self.type == PeriodType.WEEK:
            year, week, _day = self.start.isocalendar()
            return f"{year}W{week}"
        if self.type == PeriodType.MONTH:
            return self.start.strftime("%Y%m")
        if self.type == PeriodType.QUARTER:
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def __str__(self) -> str:
        return self.code

    def label(self) -> str:
        """How a Vietnamese reader writes it: 30/11/2026, T48/2026, 11/2026, Q4/2026, 2026."""
        if self.type == PeriodType.DAY:
            return self.start.strftime("%d/%m/%Y")
        if self.type == PeriodType.WEEK:
            year, week, _day = self.start.isocalendar()
            return f"T{week}/{year}"
        if self.type == PeriodType.MONTH:
            return self.start.strftime("%m/%Y")
        if self.type == PeriodType.QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1}/{self.start.year}"
        return str(self.start.year)

    def short_label(self) -> str:
        """For chart axes: 30/11, T48, 11/26, Q4/26, 2026."""
        if self.type == PeriodType.DAY:
            return self.start.strftime("%d/%m")
        if self.type == PeriodType.WEEK:
            return f"T{self.start.isocalendar()[1]}"
        if self.type == PeriodType.MONTH:
            return self.start.strftime("%m/%y")
        if self.type == PeriodType.QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1}/{self.start.strftime('%y')}"
        return str(self.start.year)

    def as_of(self, today: dt.date) -> dt.date:
        """The day a stock figure of this period is counted on: its last day, or today while it
        runs."""
        return min(self.end, today)

    def next(self) -> Period:
        return period_containing(self.type, self.end + dt.timedelta(days=1))

    def previous(self) -> Period:
        return period_containing(self.type, self.start - dt.timedelta(days=1))

    def days(self) -> int:
        return (self.end - self.start).days + 1


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"years from {MIN_YEAR} to {MAX_YEAR} only")


def period_containing(type_: str, day: dt.date) -> Period:
    """The period of ``type_`` that ``day`` falls in."""
    if type_ == PeriodType.DAY:
        return Period(day, PeriodType.DAY, day)
    if type_ == PeriodType.WEEK:
        start = day - dt.timedelta(days=day.weekday())
        return Period(start, PeriodType.WEEK, start + dt.timedelta(days=6))
    if type_ == PeriodType.MONTH:
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return Period(start, PeriodType.MONTH, following - dt.timedelta(days=1))
    if type_ == PeriodType.QUARTER:
        first_month = (day.month - 1) // 3 * 3 + 1
        start = dt.date(day.year, first_month, 1)
        end = (
            dt.date(day.year + 1, 1, 1)
            if first_month == 10
            else dt.date(day.year, first_month + 3, 1)
        ) - dt.timedelta(days=1)
        return Period(start, PeriodType.QUARTER, end)
    if type_ == PeriodType.YEAR:
        return Period(dt.date(day.year, 1, 1), PeriodType.YEAR, dt.date(day.year, 12, 31))
    raise PeriodError(f"unknown period type {type_!r}")


def parse_period(code: str) -> Period:
    """A Period from its DHIS2 code; PeriodError when it does not parse. "2026W05" is read as
    "2026W5"."""
    text = (code or "").strip().upper()
    try:
        if m := _DAY.fullmatch(text):
            _check_year(int(m[1]))
            return period_containing(PeriodType.DAY, dt.date(int(m[1]), int(m[2]), int(m[3])))
        if m := _WEEK.fullmatch(text):
            _check_year(int(m[1]))
            monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return period_containing(PeriodType.WEEK, monday)
        if m := _MONTH.fullmatch(text):
            _check_year(int(m[1]))
            return period_containing(PeriodType.MONTH, dt.date(int(m[1]), int(m[2]), 1))
        if m := _QUARTER.fullmatch(text):
            _check_year(int(m[1]))
            return period_containing(PeriodType.QUARTER, dt.date(int(m[1]), int(m[2]) * 3 - 2, 1))
        if m := _YEAR.fullmatch(text):
            _check_year(int(m[1]))
            return period_containing(PeriodType.YEAR, dt.date(int(m[1]), 1, 1))
    except ValueError as exc:  # month 13, day 31 of a 30-day month, week 54
        raise PeriodError(str(exc)) from None
    raise PeriodError("not a period code")


def periods_between(first: Period, last: Period) -> Iterator[Period]:
    """``first`` to ``last`` inclusive; both must be of the same type."""
    if first.type != last.type:
        raise PeriodError("both ends of a range must be of the same period type")
    period = first
    while period.start <= last.start:
        yield period
        period = period.next()


@dataclass(frozen=True)
class Horizon:
    """Which periods have precomputed figures: years, quarters and months since ``since``; the
    last ``weeks`` weeks and ``days`` days. Older weeks and days are not kept (months are)."""

    since: dt.date
    weeks: int
    days: int
    today: dt.date

    def periods(self) -> list[Period]:
        out: list[Period] = []
        for type_ in (PeriodType.YEAR, PeriodType.QUARTER, PeriodType.MONTH):
            out += periods_between(
                period_containing(type_, self.since), period_containing(type_, self.today)
            )
        this_week = period_containing(PeriodType.WEEK, self.today)
        first_week = period_containing(
            PeriodType.WEEK, this_week.start - dt.timedelta(weeks=self.weeks - 1)
        )
        out += periods_between(first_week, this_week)
        first_day = self.today - dt.timedelta(days=self.days - 1)
        out += periods_between(
            period_containing(PeriodType.DAY, first_day),
            period_containing(PeriodType.DAY, self.today),
        )
        return out

    def first_kept(self, type_: str) -> Period:
        if type_ == PeriodType.WEEK:
            this_week = period_containing(PeriodType.WEEK, self.today)
            return period_containing(
                PeriodType.WEEK, this_week.start - dt.timedelta(weeks=self.weeks - 1)
            )
        if type_ == PeriodType.DAY:
            return period_containing(PeriodType.DAY, self.today - dt.timedelta(days=self.days - 1))
        return period_containing(type_, self.since)

    def keeps(self, period: Period) -> bool:
        return self.first_kept(period.type).start <= period.start <= self.today


def horizon(today: dt.date | None = None) -> Horizon:
    from django.conf import settings
    from django.utils import timezone

    return Horizon(
        since=settings.INDICATORS_SINCE,
        weeks=settings.INDICATORS_WEEKS,
        days=settings.INDICATORS_DAYS,
        today=today or timezone.localdate(),
    )
