"""Reads of the precomputed figures, for the pages, the exports and the API. No raw table is
read here: every figure comes from ``IndicatorValue``. Callers check who may see a unit
(``cnsc.dashboard.units.Reach``) before asking."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cnsc.geo.models import AdminUnit, Hamlet
from cnsc.team.models import Team

from .indicators import CATALOGUE, Direction, Indicator, UnitType, indicators_for
from .models import IndicatorTarget, IndicatorValue, RefreshState
from .periods import Period, PeriodType, horizon, period_containing, periods_between
from .services import STATE
from .units import UnitRef, refs_by_id

# How close to its target a figure is: met, within 10%, within 25%, further.
NEAR, BEHIND = 0.9, 0.75


@dataclass(frozen=True)
class Figure:
    indicator: Indicator
    numerator: int
    denominator: int | None
    value: float | None
    computed_at: dt.datetime | None
    target: float | None = None

    @property
    def status(self) -> str:
        """met, near, behind or far from the target; "none" without a target or a value."""
        if self.target is None or self.value is None:
            return "none"
        if self.target == 0:
            return "met"
        ratio = self.value / self.target
        if self.indicator.direction == Direction.DOWN:
            ratio = self.target / self.value if self.value else float("inf")
        if ratio >= 1:
            return "met"
        if ratio >= NEAR:
            return "near"
        if ratio >= BEHIND:
            return "behind"
        return "far"

    @property
    def gap(self) -> float | None:
        """Value minus target (percentage points for shares)."""
        if self.target is None or self.value is None:
            return None
        return self.value - self.target

    def display(self) -> str:
        return format_value(self.indicator, self.value)

    @property
    def headline(self) -> str:
        """The big number of a card: members and teams as counts (their plan is beside)."""
        if self.indicator.roster_target:
            return format_count(self.numerator)
        return self.display()

    @property
    def parts(self) -> str:
        """What the big number is made of."""
        if self.indicator.roster_target:
            if not self.denominator:
                return _("no plan for this year")
            return _("of %(plan)s planned (%(share)s)") % {
                "plan": format_count(self.denominator),
                "share": self.display(),
            }
        if self.indicator.is_percent:
            den = "—" if self.denominator is None else format_count(self.denominator)
            return f"{format_count(self.numerator)} / {den}"
        return ""

    @property
    def cell(self) -> str:
        """What a table cell shows: members and teams as counts (a commune rarely has a plan of
        its own), every other figure as its value."""
        return self.headline

    @property
    def shows_target(self) -> bool:
        return self.target is not None and not self.indicator.roster_target

    @property
    def tooltip(self) -> str:
        """What a figure is made of, for a table cell's title."""
        parts = []
        if self.indicator.is_percent:
            den = "—" if self.denominator is None else format_count(self.denominator)
            parts.append(f"{format_count(self.numerator)} / {den}")
        if self.target is not None:
            parts.append(f"{_('target')} {format_value(self.indicator, self.target)}")
        if self.computed_at is not None:
            parts.append(timezone.localtime(self.computed_at).strftime("%H:%M %d/%m/%Y"))
        return " · ".join(parts)


def format_value(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return "—"
    if indicator.is_percent:
        return f"{value:.1f}%".replace(".", ",")
    return f"{round(value):,}".replace(",", ".")


def format_count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}".replace(",", ".")


def _empty(indicator: Indicator, target: float | None) -> Figure:
    """No stored row: a count is zero; a share has nothing to divide by."""
    return Figure(
        indicator,
        0,
        None,
        None if indicator.is_percent else 0,
        None,
        target,
    )


def freshness() -> dt.datetime | None:
    """When the figures were last brought up to date (a run that found nothing new counts)."""
    return RefreshState.objects.filter(name=STATE).values_list("last_run_at", flat=True).first()


# --- Targets --------------------------------------------------------------------------------


def _target_chain(ref: UnitRef) -> list[int]:
    """The admin units whose targets apply to ``ref``, nearest first."""
    if ref.type in (UnitType.HAMLET, UnitType.TEAM):
        return [i for i in (ref.commune_id, ref.province_id) if i]
    if ref.type == UnitType.COMMUNE:
        return [i for i in (ref.id, ref.province_id) if i]
    if ref.type == UnitType.PROVINCE:
        return [ref.id]
    unit = AdminUnit.objects.only("parent_id", "province_id").get(pk=ref.id)
    return [i for i in (ref.id, unit.parent_id, unit.province_id) if i]


def targets_for(refs: Sequence[UnitRef], year: int) -> dict[tuple[int, str], float]:
    """The target of each (unit id, indicator) for ``year``: the unit's own, else the nearest
    unit above it with one, else the catalogue's default."""
    return targets_by_year(refs, {year})[year]


def targets_by_year(
    refs: Sequence[UnitRef], years: set[int]
) -> dict[int, dict[tuple[int, str], float]]:
    """targets_for() for several years in one query."""
    chains = {ref.id: _target_chain(ref) for ref in refs}
    wanted = {i for chain in chains.values() for i in chain}
    own: dict[tuple[int, int, str], float] = {
        (year, unit_id, code): float(value)
        for year, unit_id, code, value in IndicatorTarget.objects.filter(
            unit_id__in=wanted, year__in=years
        ).values_list("year", "unit_id", "indicator", "value")
    }
    out: dict[int, dict[tuple[int, str], float]] = {year: {} for year in years}
    for year in years:
        for ref in refs:
            for indicator in CATALOGUE:
                target = next(
                    (
                        own[(year, u, indicator.code)]
                        for u in chains[ref.id]
                        if (year, u, indicator.code) in own
                    ),
                    indicator.default_target,
                )
                if target is not None:
                    out[year][(ref.id, indicator.code)] = target
    return out


# --- Figures ----------------------------------------------------------------------------------


def figures_of(ref: UnitRef, period: Period) -> dict[str, Figure]:
    """Every indicator of one unit in one period."""
    return figures_of_many([ref], period)[ref.id]


def figures_of_many(refs: Sequence[UnitRef], period: Period) -> dict[int, dict[str, Figure]]:
    """Every indicator of several units of one type in one period: one query for the figures,
    one for the targets."""
    if not refs:
        return {}
    unit_type = refs[0].type
    rows = IndicatorValue.objects.filter(
        unit_type=unit_type, unit_id__in=[r.id for r in refs], period=period.code
    ).values_list("unit_id", "indicator", "numerator", "denominator", "value", "computed_at")
    stored: dict[tuple[int, str], tuple[int, int | None, float | None, dt.datetime]] = {
        (unit_id, code): (num, den, value, at) for unit_id, code, num, den, value, at in rows
    }
    targets = targets_for(refs, period.end.year)
    out: dict[int, dict[str, Figure]] = {}
    for ref in refs:
        figures: dict[str, Figure] = {}
        for indicator in indicators_for(unit_type):
            target = targets.get((ref.id, indicator.code))
            row = stored.get((ref.id, indicator.code))
            figures[indicator.code] = (
                Figure(indicator, row[0], row[1], row[2], row[3], target)
                if row
                else _empty(indicator, target)
            )
        out[ref.id] = figures
    return out


def trend_periods(period: Period) -> list[Period]:
    """The periods a trend chart of ``period`` shows: up to 24 months, 26 weeks, 31 days, 12
    quarters or every year kept, ending with ``period``."""
    keep = horizon()
    counts: dict[str, int] = {
        PeriodType.MONTH: 24,
        PeriodType.WEEK: 26,
        PeriodType.DAY: 31,
        PeriodType.QUARTER: 12,
        PeriodType.YEAR: 10,
    }
    first = keep.first_kept(period.type)
    periods = list(periods_between(first, period)) if first.start <= period.start else [period]
    return periods[-counts[period.type] :]


def trends_of(
    ref: UnitRef, periods: Sequence[Period], indicators: Iterable[Indicator] | None = None
) -> dict[str, list[tuple[Period, Figure]]]:
    """Each indicator's figure in each period (one query)."""
    chosen = list(indicators or indicators_for(ref.type))
    rows = IndicatorValue.objects.filter(
        unit_type=ref.type,
        unit_id=ref.id,
        indicator__in=[i.code for i in chosen],
        period__in=[p.code for p in periods],
    ).values_list("indicator", "period", "numerator", "denominator", "value", "computed_at")
    stored = {(code, p): (num, den, value, at) for code, p, num, den, value, at in rows}
    targets = targets_by_year([ref], {p.end.year for p in periods})
    out: dict[str, list[tuple[Period, Figure]]] = {}
    for indicator in chosen:
        series = []
        for p in periods:
            target = targets[p.end.year].get((ref.id, indicator.code))
            row = stored.get((indicator.code, p.code))
            figure = (
                Figure(indicator, row[0], row[1], row[2], row[3], target)
                if row
                else _empty(indicator, target)
            )
            series.append((p, figure))
        out[indicator.code] = series
    return out


def units_with_figures(unit_type: str, ids: Iterable[int], period: Period) -> set[int]:
    return set(
        IndicatorValue.objects.filter(
            unit_type=unit_type, unit_id__in=list(ids), period=period.code
        )
        .values_list("unit_id", flat=True)
        .distinct()
    )


def hamlets_without_team(
    *, period: Period, commune_ids: Sequence[int] | None = None, province_id: int | None = None
) -> list[UnitRef]:
    """Hamlets that existed at the end of the period with no active team then."""
    hamlets = Hamlet.objects.all()
    if commune_ids is not None:
        hamlets = hamlets.filter(commune_id__in=commune_ids)
    if province_id is not None:
        hamlets = hamlets.filter(commune__province_id=province_id)
    ids = IndicatorValue.objects.filter(
        unit_type=UnitType.HAMLET,
        indicator="hamlets_with_team",
        period=period.code,
        numerator=0,
        unit_id__in=hamlets.values("id"),
    ).values_list("unit_id", flat=True)
    refs = refs_by_id(UnitType.HAMLET, list(ids))
    return sorted(refs.values(), key=lambda r: (natural(r.context), natural(r.name)))


# A page opened without a period shows a month. In the first days of a month the new month
# has hardly begun (visits, services and signatures read 0 or next to it), and an official is
# still reporting on the month just ended: until this day of the month, the default is the
# month before, complete; from the day after, the running month so far.
LAST_MONTH_UNTIL_DAY = 7


def default_period(today: dt.date | None = None) -> Period:
    """The month a page opens on: the month just ended until LAST_MONTH_UNTIL_DAY, then the
    running month (and the running month as well when the month before is not kept)."""
    today = today or timezone.localdate()
    month = period_containing(PeriodType.MONTH, today)
    if today.day <= LAST_MONTH_UNTIL_DAY and horizon(today).keeps(month.previous()):
        return month.previous()
    return month


# --- Tables of a page -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    ref: UnitRef
    figures: dict[str, Figure]


def table_rows(refs: Sequence[UnitRef], period: Period) -> list[Row]:
    figures = figures_of_many(refs, period)
    return [Row(ref, figures[ref.id]) for ref in refs]


# The Vietnamese alphabet (with f, j, w, z where the Latin one has them): ă and â after a, đ
# after d, ê after e, ô and ơ after o, ư after u. Tones count only between otherwise equal words,
# in the dictionary's order: none, grave, acute, hook, tilde, dot below.
_LETTERS = {ch: 1000 + i for i, ch in enumerate("aăâbcdđeêfghijklmnoôơpqrstuưvwxyz")}
_VOWEL_MARKS = frozenset("\u0306\u0302\u031b")  # breve, circumflex, horn
_TONES = {"\u0300": 1, "\u0301": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}


def _collate(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    letters: list[int] = []
    tones: list[int] = []
    for ch in unicodedata.normalize("NFC", text.lower()):
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in _VOWEL_MARKS))
        letters.append(_LETTERS.get(letter, ord(ch) if ord(ch) < 1000 else 2000 + ord(ch)))
        tones.append(max((_TONES.get(m, 0) for m in marks), default=0))
    return tuple(letters), tuple(tones)


def natural(text: str) -> tuple[Any, ...]:
    """In Vietnamese alphabetical order ("Phường Bến Cát" before "Phường Bình Hòa", "Phường Dĩ
    An" before "Phường Đông Hòa", "Phường Tân Hiệp" before "Phường Thủ Dầu Một"), numbers by
    their value ("Khu phố 2" before "Khu phố 10")."""
    return tuple(
        int(part) if part.isdigit() else _collate(part) for part in re.split(r"(\d+)", text)
    )


def sort_rows(rows: list[Row], key: str, descending: bool) -> list[Row]:
    """By an indicator's value (units without one last, whichever the direction), or by name.
    Members and teams sort by their count."""
    if key == "name":
        return sorted(
            rows, key=lambda r: (natural(r.ref.context), natural(r.ref.name)), reverse=descending
        )

    def value(row: Row) -> float | None:
        figure = row.figures.get(key)
        if figure is None:
            return None
        return float(figure.numerator) if figure.indicator.roster_target else figure.value

    with_value = sorted(
        (r for r in rows if value(r) is not None), key=lambda r: natural(r.ref.name)
    )
    with_value.sort(key=lambda r: value(r) or 0.0, reverse=descending)  # stable: names break ties
    without = sorted((r for r in rows if value(r) is None), key=lambda r: natural(r.ref.name))
    return with_value + without


def team_refs_of_communes(commune_ids: Sequence[int]) -> list[UnitRef]:
    from .units import ref_of_team

    return [
        ref_of_team(t)
        for t in Team.objects.filter(commune_id__in=commune_ids)
        .select_related("commune")
        .order_by("name")
    ]


def values_query(
    *,
    refs: Sequence[UnitRef],
    indicators: Sequence[str],
    periods: Sequence[Period],
) -> Q:
    """The filter for the API's values: any of these units, indicators and periods."""
    by_type: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        by_type[ref.type].append(ref.id)
    units = Q()
    for unit_type, ids in by_type.items():
        units |= Q(unit_type=unit_type, unit_id__in=ids)
    return units & Q(indicator__in=list(indicators), period__in=[p.code for p in periods])
