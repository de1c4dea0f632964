"""What a dashboard page shows for a unit and a period, assembled once for the HTML page, the
.xlsx export and the PDF report, so the three always agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cnsc.geo.models import Hamlet

from . import selectors as sel
from .charts import series_of, trend_svg
from .indicators import Indicator, Kind, UnitType, indicators_for
from .periods import (
    PERIOD_TYPES,
    Period,
    PeriodError,
    PeriodType,
    horizon,
    parse_period,
    period_containing,
)
from .units import (
    Reach,
    UnitRef,
    communes_of_province,
    former_communes_of,
    former_districts_of,
    former_districts_of_province,
    parent_chain,
    reach_of_user,
    ref_of_hamlet,
    ref_of_team,
    ref_of_unit,
    teams_of_commune,
    teams_of_hamlet,
)


class BadInputError(ValueError):
    """A request parameter that cannot be used; the message is shown to the user."""


def reach_of(request: HttpRequest) -> Reach:
    cached = getattr(request, "_dashboard_reach", None)
    if cached is None:
        cached = reach_of_user(request.user)
        request._dashboard_reach = cached  # type: ignore[attr-defined]
    return cached


def visible_or_404(request: HttpRequest, ref: UnitRef | None) -> UnitRef:
    """Another unit's page answers 404, exactly like one that does not exist."""
    if ref is None or not reach_of(request).sees(ref):
        raise Http404
    return ref


def period_from(request: HttpRequest, *, name: str = "period") -> Period:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return sel.default_period()
    try:
        period = parse_period(raw)
    except PeriodError:
        raise BadInputError(
            _(
                "“%(period)s” is not a period. Write a day 20261130, a week 2026W48, a month "
                "202611, a quarter 2026Q4 or a year 2026."
            )
            % {"period": raw[:20]}
        ) from None
    keep = horizon()
    if period.start > keep.today:
        raise BadInputError(_("This period has not started yet."))
    if not keep.keeps(period):
        first = keep.first_kept(period.type)
        raise BadInputError(
            _("Figures of this kind are kept from %(first)s; ask for a month or a year instead.")
            % {"first": first.label()}
        )
    return period


def unit_url(ref: UnitRef) -> str:
    if ref.type == UnitType.PROVINCE:
        return reverse("dashboard:province", args=[ref.code])
    if ref.type == UnitType.COMMUNE:
        return reverse("dashboard:commune", args=[ref.code])
    if ref.type == UnitType.HAMLET:
        return reverse("dashboard:hamlet", args=[ref.code])
    if ref.type == UnitType.TEAM:
        commune, team = ref.code.split("-", 1)
        return reverse("dashboard:team", args=[commune, team])
    return reverse("dashboard:former", args=[ref.code.removeprefix("F")])


# --- The parts of a page --------------------------------------------------------------------


@dataclass
class Card:
    figure: sel.Figure
    previous: sel.Figure
    chart: str
    # The period is still running: what happened in it so far is not comparable with a whole
    # previous period.
    running: bool = False

    @property
    def indicator(self) -> Indicator:
        return self.figure.indicator

    @property
    def target_display(self) -> str:
        return sel.format_value(self.indicator, self.figure.target)

    @property
    def so_far(self) -> bool:
        return self.running and self.indicator.kind == Kind.FLOW

    @property
    def change(self) -> str:
        """The change since the previous period, signed ("+2,5 điểm", "+120"); none for what
        happened in a period still running."""
        if self.so_far:
            return ""
        if self.indicator.roster_target:
            # The card's big number is the count (members, teams): so is its change.
            return f"{self.figure.numerator - self.previous.numerator:+,}".replace(",", ".")
        now, before = self.figure.value, self.previous.value
        if now is None or before is None:
            return ""
        delta = now - before
        if self.indicator.is_percent:
            return f"{delta:+.1f}".replace(".", ",") + " " + _("pts")
        return f"{round(delta):+,}".replace(",", ".")


@dataclass
class Table:
    key: str
    title: str
    unit_label: str
    indicators: list[Indicator]
    rows: list[sel.Row]
    sort: str
    descending: bool
    without_figures: list[UnitRef] = field(default_factory=list)
    # (label, link, arrow) per column, and the rows as HTML: set by the page that shows it.
    header_links: list[tuple[str, str, str]] = field(default_factory=list)
    body_html: SafeString = field(default_factory=lambda: mark_safe(""))

    def body(self, *, query: str, with_context: bool) -> SafeString:
        """The table's rows as HTML, built here rather than in the template: a province's
        table has hundreds of cells, and the template engine's lookups cost more than the
        queries behind them."""
        rows = []
        for unit, url, figures in self.lines:
            context = (
                format_html('<span class="muted"> · {}</span>', unit.context)
                if with_context and unit.context
                else ""
            )
            cells = format_html_join(
                "",
                '<td class="s-{}" title="{}">{}</td>',
                ((f.status, f.tooltip, f.cell) for f in figures),
            )
            rows.append(
                format_html(
                    '<tr><th scope="row" class="col-unit"><a href="{}{}">{}</a>{}</th>{}</tr>',
                    url,
                    query,
                    unit.name,
                    context,
                    cells,
                )
            )
        return mark_safe("\n".join(rows))  # noqa: S308 (every part is built by format_html)

    @property
    def lines(self) -> list[tuple[UnitRef, str, list[sel.Figure]]]:
        """Each row's unit, its page and its figures in column order (what a template can
        walk without looking anything up)."""
        return [
            (row.ref, unit_url(row.ref), [row.figures[i.code] for i in self.indicators])
            for row in self.rows
        ]


TABLES = {
    "communes": gettext_lazy("Communes and wards"),
    "former_districts": gettext_lazy("Former districts (before 1 July 2025)"),
    "former_communes": gettext_lazy("Former communes"),
    "hamlets": gettext_lazy("Hamlets and quarters"),
    "teams": gettext_lazy("Teams"),
}
UNIT_LABELS = {
    "communes": gettext_lazy("Commune"),
    "former_districts": gettext_lazy("Former district"),
    "former_communes": gettext_lazy("Former commune"),
    "hamlets": gettext_lazy("Hamlet"),
    "teams": gettext_lazy("Team"),
}


def tables_of(ref: UnitRef, *, group: str = "") -> list[str]:
    """Which tables a unit's page has, in order."""
    if ref.type == UnitType.PROVINCE:
        return ["former_districts"] if group == "former_district" else ["communes"]
    if ref.type == UnitType.COMMUNE:
        return ["hamlets", "teams"]
    if ref.type == UnitType.HAMLET:
        return ["teams"]
    if ref.type == UnitType.FORMER_PROVINCE:
        return ["former_districts"]
    if ref.type == UnitType.FORMER_DISTRICT:
        return ["former_communes"]
    if ref.type == UnitType.FORMER_COMMUNE:
        return ["hamlets"]
    return []


def _members_of(ref: UnitRef, key: str, period: Period) -> list[UnitRef]:
    if key == "communes":
        return [ref_of_unit(u) for u in communes_of_province(ref.id)]
    if key == "former_districts":
        units = (
            former_districts_of_province(ref.id)
            if ref.type == UnitType.PROVINCE
            else former_districts_of(ref.id)
        )
        return [ref_of_unit(u) for u in units]
    if key == "former_communes":
        return [ref_of_unit(u) for u in former_communes_of(ref.id)]
    if key == "hamlets":
        hamlets = Hamlet.objects.select_related("commune").order_by("name")
        hamlets = (
            hamlets.filter(commune_id=ref.id)
            if ref.type == UnitType.COMMUNE
            else hamlets.filter(former_commune_id=ref.id)
        )
        # Hamlets retired before the period began are history, not part of the picture.
        hamlets = hamlets.exclude(retired_on__lt=period.start)
        return [ref_of_hamlet(h) for h in hamlets]
    teams = teams_of_hamlet(ref.id) if ref.type == UnitType.HAMLET else teams_of_commune(ref.id)
    return [ref_of_team(t) for t in teams]


def build_table(
    ref: UnitRef, key: str, period: Period, *, sort: str = "", descending: bool = True
) -> Table:
    members = _members_of(ref, key, period)
    row_type = members[0].type if members else UnitType.COMMUNE
    indicators = indicators_for(row_type)
    codes = {i.code for i in indicators}
    if sort not in codes and sort != "name":
        sort = indicators[0].code
    with_figures = members
    without: list[UnitRef] = []
    if key in ("communes", "former_districts"):
        # A province page lists every commune that has figures, and names the rest.
        present = sel.units_with_figures(row_type, [m.id for m in members], period)
        with_figures = [m for m in members if m.id in present]
        without = sorted(
            (m for m in members if m.id not in present), key=lambda m: sel.natural(m.name)
        )
    rows = sel.sort_rows(sel.table_rows(with_figures, period), sort, descending)
    return Table(
        key=key,
        title=str(TABLES[key]),
        unit_label=str(UNIT_LABELS[key]),
        indicators=indicators,
        rows=rows,
        sort=sort,
        descending=descending,
        without_figures=without,
    )


@dataclass
class PeriodLink:
    label: str
    code: str
    current: bool = False


@dataclass
class Page:
    ref: UnitRef
    period: Period
    reach: Reach
    group: str = ""
    sort: str = ""
    descending: bool = True
    # Opened without a period: the period is the default one (selectors.default_period).
    defaulted: bool = False

    @cached_property
    def breadcrumbs(self) -> list[tuple[UnitRef, str]]:
        return [(r, unit_url(r)) for r in parent_chain(self.ref) if self.reach.sees(r)]

    @cached_property
    def figures(self) -> dict[str, sel.Figure]:
        # The trend charts end with this period: their last points are the headline figures.
        return {code: series[-1][1] for code, series in self.trends.items()}

    @cached_property
    def trend_periods(self) -> list[Period]:
        return sel.trend_periods(self.period)

    @cached_property
    def trends(self) -> dict[str, list[tuple[Period, sel.Figure]]]:
        return sel.trends_of(self.ref, self.trend_periods)

    @cached_property
    def cards(self) -> list[Card]:
        before = self.period.previous()
        previous = (
            {code: series[-2][1] for code, series in self.trends.items()}
            if len(self.trend_periods) > 1 and self.trend_periods[-2] == before
            else sel.figures_of(self.ref, before)
        )
        cards = []
        for code, figure in self.figures.items():
            cards.append(
                Card(
                    figure=figure,
                    previous=previous[code],
                    chart=trend_svg(series_of(self.trends[code], today=horizon().today)),
                    running=self.running,
                )
            )
        return cards

    @cached_property
    def this_month(self) -> Period | None:
        """The running month, when the page opened by default on the month before it (the
        first days of a month); the page says why and links to it."""
        if not self.defaulted or self.period.type != PeriodType.MONTH:
            return None
        month = period_containing(PeriodType.MONTH, horizon().today)
        return month if month != self.period else None

    @property
    def last_month_days(self) -> int:
        return sel.LAST_MONTH_UNTIL_DAY

    @cached_property
    def running(self) -> bool:
        return self.period.end >= horizon().today

    @property
    def days_so_far(self) -> tuple[int, int]:
        """(days gone, days in all) of a running period."""
        today = horizon().today
        return (today - self.period.start).days + 1, self.period.days()

    @cached_property
    def tables(self) -> list[Table]:
        out = []
        for key in tables_of(self.ref, group=self.group):
            table_key, _dot, code = self.sort.partition(".")
            wanted = code if table_key == key else ""
            table = build_table(self.ref, key, self.period, sort=wanted, descending=self.descending)
            table.header_links = self.headers(table)
            table.body_html = table.body(
                query=self.query_period, with_context=self.ref.type != UnitType.COMMUNE
            )
            out.append(table)
        return out

    def query(self, **changes: str) -> str:
        """This page's query string with some parameters changed."""
        from django.http import QueryDict

        params = QueryDict(mutable=True)
        params["period"] = self.period.code
        if self.group:
            params["group"] = self.group
        if self.sort:
            params["sort"] = self.sort
            params["dir"] = "desc" if self.descending else "asc"
        for key, value in changes.items():
            if value:
                params[key] = value
            else:
                params.pop(key, None)
        return "?" + params.urlencode()

    def headers(self, table: Table) -> list[tuple[str, str, str]]:
        """(label, link, arrow) of each sortable column: a click sorts by it, a second click
        turns the order round."""
        out = []
        for code, label in [("name", table.unit_label)] + [
            (i.code, i.short_label()) for i in table.indicators
        ]:
            active = table.sort == code
            descending = not table.descending if active else code != "name"
            link = self.query(sort=f"{table.key}.{code}", dir="desc" if descending else "asc")
            arrow = ("▼" if table.descending else "▲") if active else ""
            out.append((label, link, arrow))
        return out

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise Http404

    @cached_property
    def hamlets_without_team(self) -> list[tuple[UnitRef, str]] | None:
        if self.ref.type == UnitType.PROVINCE:
            hamlets = sel.hamlets_without_team(period=self.period, province_id=self.ref.id)
        elif self.ref.type == UnitType.COMMUNE:
            hamlets = sel.hamlets_without_team(period=self.period, commune_ids=[self.ref.id])
        else:
            return None
        return [(h, unit_url(h)) for h in hamlets]

    # --- links -----------------------------------------------------------------------------

    @property
    def query_now(self) -> str:
        return self.query()

    @property
    def query_period(self) -> str:
        return f"?period={self.period.code}"

    @property
    def query_base(self) -> str:
        """This page's query without the period, ready for ``period=...`` to be appended."""
        rest = self.query(period="")
        return rest + "&" if rest != "?" else rest

    @property
    def export_base(self) -> str:
        return unit_url(self.ref) + "export/"

    @property
    def report_url(self) -> str:
        if self.ref.type not in (UnitType.PROVINCE, UnitType.COMMUNE):
            return ""
        today = horizon().today
        month = period_containing(PeriodType.MONTH, self.period.as_of(today))
        if month.end >= today:
            # A month is reported once it is over: the last whole one.
            month = month.previous()
        return unit_url(self.ref) + f"report.pdf?period={month.code}"

    @property
    def group_commune_url(self) -> str:
        return self.query(group="", sort="")

    @property
    def group_former_url(self) -> str:
        return self.query(group="former_district", sort="")

    @cached_property
    def computed_at(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The oldest and newest computing time of the headline figures."""
        times = [f.computed_at for f in self.figures.values() if f.computed_at]
        return (min(times), max(times)) if times else (None, None)

    @cached_property
    def refreshed_at(self) -> dt.datetime | None:
        return sel.freshness()

    @cached_property
    def period_links(self) -> list[PeriodLink]:
        keep = horizon()
        anchor = self.period.as_of(keep.today)
        links = []
        for type_ in PERIOD_TYPES:
            p = period_containing(type_, anchor)
            if keep.keeps(p):
                links.append(
                    PeriodLink(str(_label_of_type(type_)), p.code, type_ == self.period.type)
                )
        return links

    @cached_property
    def previous_period(self) -> Period | None:
        p = self.period.previous()
        return p if horizon().keeps(p) else None

    @cached_property
    def next_period(self) -> Period | None:
        p = self.period.next()
        return p if horizon().keeps(p) else None


def _label_of_type(type_: str) -> str:
    return str(PeriodType(type_).label)
