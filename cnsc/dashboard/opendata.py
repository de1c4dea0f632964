"""Open data: a province's figures for anyone, as CSV and JSON, each with a JSON-LD metadata file
that reads as a schema.org Dataset and a DCAT dataset (and, for the CSV, a CSVW table schema).

Aggregates only, for the province, its communes and the former units wholly inside it (no
hamlet, no team); months, quarters and years. No figure may single out a person: a unit with
fewer than ``OPEN_DATA_MIN_HOUSEHOLDS`` households in a period has all its figures of that
period withheld, and so has every share whose denominator is smaller than that. A withheld
figure keeps its line, marked ``suppressed``, so a reader knows it exists.

A unit's figure adds up from its children's (province from its communes, former province from
its former districts, former district from its former communes), so one withheld figure among
published ones could be worked out by subtraction. For each figure (indicator and period) and
each published unit with its published children, when exactly one of them is withheld, the
smallest other child (by denominator, or households for a count; then by code) is withheld too,
or the parent when no child is left; and again, across levels, until no such group has exactly
one withheld figure.

Several withheld figures together can still be worked out, as a total: a published unit less
everything published under it (its published children, and the published children of its
withheld ones) gives the pooled total of what is withheld under it. For a share, a pooled total
of 0% or 100% says of every person in those units that they have (or have not) what is
counted. So, in the same loop, wherever a published unit's withheld figures under it pool to a
numerator of 0 or to their whole denominator, the smallest published unit of those subtracted
(by denominator, then code) is withheld as well, or the unit itself when none is left, until no
pool is at 0% or 100%. Checking the finest pool is enough: any other total that subtraction
gives adds published figures to it, and a total at 0% or 100% is made of parts that all are.
A unit whose own published share is 0% or 100% is left as it is, since it already says that of
every unit under it and nothing withheld could hide it.

A missing line would say something too: figures are stored only where there is something to
count, so a unit withheld for too few households that had no line for, say, visits would show
that it had none. Such a unit therefore has, in each period where it has any figure, a withheld
line for every indicator the file has in that period (for any unit), whether or not a figure is
stored, and those lines take part in the withholding above like any other (the city less its
other wards would otherwise give the missing ward's zero). A unit with no figure at all in a
period has nothing counted in it, no person, and no line. Every withheld line carries the time
its indicator and period were last computed in the file, not its own, so nothing tells a stored
figure from an absent one. Larger units keep their lines as stored: an absent line there is a
zero over enough households.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Max, Min, Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from cnsc.geo.models import AdminUnit, Hierarchy, Level

from . import indicators as ind
from .api import ApiError, _csv_lines, _iso, bad, public_view, value_number
from .indicators import CATALOGUE, INDICATORS, UnitType
from .models import IndicatorValue
from .periods import PeriodType
from .units import FORMER_TYPES, former_units_within, refs_by_id

_R = TypeVar("_R", bound=HttpResponseBase)
Unit = tuple[str, int]  # unit type, id
OPEN_PERIOD_TYPES = (PeriodType.MONTH, PeriodType.QUARTER, PeriodType.YEAR)
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    # name, datatype, English description, Vietnamese description
    ("indicator", "string", "Indicator code (see the list of indicators).", "Mã chỉ tiêu."),
    (
        "period",
        "string",
        "Period in DHIS2 notation: 202611 (month), 2026Q4 (quarter), 2026 (year).",
        "Kỳ theo ký hiệu DHIS2: 202611 (tháng), 2026Q4 (quý), 2026 (năm).",
    ),
    (
        "unit_code",
        "string",
        "Official code of the unit (2 digits province, 5 digits commune; F + code for units "
        "before 1 July 2025).",
        "Mã đơn vị hành chính (2 số: tỉnh, 5 số: xã; F + mã: đơn vị trước 1/7/2025).",
    ),
    ("unit_name", "string", "Name of the unit.", "Tên đơn vị."),
    (
        "unit_type",
        "string",
        "province, commune, former_province, former_district or former_commune.",
        "Loại đơn vị.",
    ),
    (
        "value",
        "number",
        "The figure: a percentage, or a count. Empty when withheld or undefined.",
        "Giá trị: tỷ lệ phần trăm hoặc số lượng.",
    ),
    ("unit", "string", "Unit of measure: percent or count.", "Đơn vị đo: percent hoặc count."),
    ("numerator", "integer", "What is counted (for a percentage).", "Tử số."),
    ("denominator", "integer", "What it is counted among (for a percentage).", "Mẫu số."),
    (
        "status",
        "string",
        "ok, or suppressed (withheld: too few households, or so that another withheld figure "
        "cannot be worked out by subtraction).",
        "ok hoặc suppressed (ẩn: quá ít hộ, hoặc để không suy ra được số liệu bị ẩn khác "
        "bằng phép trừ).",
    ),
    (
        "computed_at",
        "dateTime",
        "When the figure was computed (Asia/Ho_Chi_Minh); for a withheld figure, when its "
        "indicator and period were last computed in the file.",
        "Thời điểm tính; với số liệu bị ẩn: lần tính gần nhất của chỉ tiêu và kỳ đó trong tệp.",
    ),
)


Cell = tuple[str, int, str, str]  # unit type, unit id, indicator, period


@dataclass
class Withholding:
    """What the file withholds: ``cells`` (unit type, unit id, indicator, period) withheld,
    ``padding`` the withheld lines of small units with no stored figure (per unit type and
    unit id: indicator, period, period type, period start), and ``stamp`` the time each
    indicator and period was last computed in the file."""

    cells: set[Cell]
    padding: dict[str, dict[int, list[tuple[str, str, str, dt.date]]]]
    stamp: dict[tuple[str, str], dt.datetime]


@dataclass
class Dataset:
    province: AdminUnit
    unit_ids: dict[str, set[int]]
    period_types: tuple[str, ...]

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every figure, withheld ones marked, small units with a line for every figure of the
        file; in a stable order (unit type, unit id, then indicator, period type and start as
        Python orders them, so that every database gives the same file)."""
        names = {
            (unit_type, unit_id): ref
            for unit_type, ids in self.unit_ids.items()
            for unit_id, ref in refs_by_id(unit_type, ids).items()
        }
        plan = self.withheld({unit: ref.code for unit, ref in names.items()})
        for unit_type, ids in self.unit_ids.items():
            if not ids:
                continue
            stored = (
                IndicatorValue.objects.filter(
                    unit_type=unit_type, unit_id__in=ids, period_type__in=self.period_types
                )
                .order_by("unit_id")
                .values_list(
                    "unit_id",
                    "indicator",
                    "period",
                    "period_type",
                    "period_start",
                    "numerator",
                    "denominator",
                    "value",
                    "computed_at",
                )
            )
            by_unit = groupby(stored.iterator(chunk_size=5000), key=itemgetter(0))
            padding = plan.padding.get(unit_type, {})
            pending = next(by_unit, None)
            for unit_id in sorted(ids):
                lines: list[tuple[Any, ...]] = []
                if pending is not None and pending[0] == unit_id:
                    lines = [line[1:] for line in pending[1]]
                    pending = next(by_unit, None)
                lines += [
                    (code, period, ptype, start, None, None, None, None)
                    for code, period, ptype, start in padding.get(unit_id, ())
                ]
                if not lines:
                    continue
                lines.sort(key=itemgetter(0, 2, 3))
                ref = names[(unit_type, unit_id)]
                for code, period, _ptype, _start, num, den, value, at in lines:
                    indicator = INDICATORS[code]
                    hidden = (unit_type, unit_id, code, period) in plan.cells
                    yield {
                        "indicator": code,
                        "period": period,
                        "unit_code": ref.code,
                        "unit_name": ref.name,
                        "unit_type": unit_type,
                        "value": None if hidden else value_number(code, value),
                        "unit": indicator.measure,
                        "numerator": None if hidden else num,
                        "denominator": None if hidden else den,
                        "status": "suppressed" if hidden else "ok",
                        "computed_at": _iso(plan.stamp[(code, period)] if hidden else at),
                    }

    def withheld(self, codes: dict[Unit, str]) -> Withholding:
        """Every figure withheld: those of units with too few households (with a line for
        each figure of the file in a period where they have any), shares over too few, and
        what keeps them from being worked out (module docstring). One pass over the figures,
        a period at a time."""
        minimum = settings.OPEN_DATA_MIN_HOUSEHOLDS
        households = self.households()
        parent_of = self.parents()
        published = Q()
        for unit_type, ids in self.unit_ids.items():
            if ids:
                published |= Q(unit_type=unit_type, unit_id__in=ids)
        figures = (
            IndicatorValue.objects.filter(published, period_type__in=self.period_types)
            .order_by("period", "indicator")
            .values_list(
                "period",
                "indicator",
                "unit_type",
                "unit_id",
                "numerator",
                "denominator",
                "period_type",
                "period_start",
                "computed_at",
            )
        )
        out = Withholding(set(), {}, {})
        for period, in_period in groupby(figures.iterator(chunk_size=5000), key=itemgetter(0)):
            by_code = {code: list(cells) for code, cells in groupby(in_period, key=itemgetter(1))}
            small_units = sorted(
                {
                    (cell[2], cell[3])
                    for cells in by_code.values()
                    for cell in cells
                    if households.get((cell[2], cell[3], period), 0) < minimum
                },
                key=codes.__getitem__,
            )
            for code, cells in by_code.items():
                indicator = INDICATORS[code]
                share = indicator.is_percent and not indicator.roster_target
                size: dict[Unit, tuple[int, str]] = {}
                shares: dict[Unit, tuple[int, int]] = {}
                small: set[Unit] = set()
                for _p, _c, unit_type, unit_id, num, den, _t, _s, _a in cells:
                    unit = (unit_type, unit_id)
                    homes = households.get((unit_type, unit_id, period), 0)
                    size[unit] = (homes if den is None else den, codes[unit])
                    shares[unit] = (num or 0, den or 0)
                    if homes < minimum or (share and den is not None and 0 < den < minimum):
                        small.add(unit)
                period_type, start = cells[0][6], cells[0][7]
                out.stamp[(code, period)] = max(cell[8] for cell in cells)
                for unit in small_units:
                    if unit not in size:
                        size[unit] = (households.get((*unit, period), 0), codes[unit])
                        small.add(unit)
                        out.padding.setdefault(unit[0], {}).setdefault(unit[1], []).append(
                            (code, period, period_type, start)
                        )
                hidden = complemented(size, small, parent_of, shares if share else None)
                for unit_type, unit_id in hidden:
                    out.cells.add((unit_type, unit_id, code, period))
        return out

    def parents(self) -> dict[Unit, Unit]:
        """Each published unit's parent, where the parent is published too: the province of
        every commune, a former district's former province, a former commune's district."""
        province: Unit = (UnitType.PROVINCE, self.province.pk)
        out: dict[Unit, Unit] = {
            (UnitType.COMMUNE, commune): province
            for commune in self.unit_ids.get(UnitType.COMMUNE, ())
        }
        former = {
            unit_id: unit_type
            for unit_type in sorted(FORMER_TYPES)
            for unit_id in self.unit_ids.get(unit_type, ())
        }
        for unit_id, parent_id in AdminUnit.objects.filter(id__in=former).values_list(
            "id", "parent_id"
        ):
            if parent_id in former:
                out[(former[unit_id], unit_id)] = (former[parent_id], parent_id)
        return out

    def households(self) -> dict[tuple[str, int, str], int]:
        """Households on the list per unit and period (the denominator of "households
        visited")."""
        out: dict[tuple[str, int, str], int] = {}
        for unit_type, ids in self.unit_ids.items():
            for unit_id, period, den in IndicatorValue.objects.filter(
                unit_type=unit_type,
                unit_id__in=ids,
                indicator=ind.HOUSEHOLDS_VISITED,
                period_type__in=self.period_types,
            ).values_list("unit_id", "period", "denominator"):
                out[(unit_type, unit_id, period)] = den or 0
        return out


def complemented(
    size: dict[Unit, tuple[int, str]],
    withheld: Iterable[Unit],
    parent_of: dict[Unit, Unit],
    shares: dict[Unit, tuple[int, int]] | None = None,
) -> set[Unit]:
    """The figures to withhold so that none can be worked out by subtraction: ``withheld``,
    and, while some parent with its children (all in ``size``) has exactly one withheld, the
    smallest published child by ``size`` (or the parent when every child is withheld).

    With ``shares`` (numerator and denominator of each figure of a share), also while some
    published unit's withheld figures under it pool to 0% or 100% (its figure less every
    published one that subtraction can take from it: see the module docstring), the smallest
    of those published ones, or the unit itself when none is left. Units are looked at from
    the deepest level up, so that what a lower one withholds counts in the pools above it;
    and both rules again until neither withholds anything.

    Linear in the figures for the first rule, bar sorting each parent's children once: each
    figure is withheld at most once and touches its two groups (as child and as parent). The
    second walks each unit's withheld figures below it, a few levels deep."""
    hidden = set(withheld) & size.keys()
    children: dict[Unit, list[Unit]] = {}
    for unit in size:
        parent = parent_of.get(unit)
        if parent is not None and parent in size:
            children.setdefault(parent, []).append(unit)
    for kids in children.values():
        kids.sort(key=size.__getitem__)
    count = {
        parent: (parent in hidden) + sum(kid in hidden for kid in kids)
        for parent, kids in children.items()
    }
    smallest = dict.fromkeys(children, 0)  # first child not yet known to be withheld
    queue = deque(p for p in sorted(children, key=size.__getitem__) if count[p] == 1)

    def hide(unit: Unit) -> None:
        hidden.add(unit)
        for group in (unit, parent_of.get(unit)):
            if group in count:
                count[group] += 1
                if count[group] == 1:
                    queue.append(group)

    def settle() -> None:
        while queue:
            parent = queue.popleft()
            if count[parent] != 1:
                continue
            kids = children[parent]
            i = smallest[parent]
            while i < len(kids) and kids[i] in hidden:
                i += 1
            smallest[parent] = i
            hide(kids[i] if i < len(kids) else parent)

    settle()
    if shares is None:
        return hidden

    def depth(unit: Unit) -> int:
        parent = parent_of.get(unit)
        return 0 if parent is None or parent not in size else 1 + depth(parent)

    def subtracted(unit: Unit) -> list[Unit] | None:
        """The published figures that subtraction takes from ``unit``'s, or None when
        nothing under it is withheld."""
        found: list[Unit] = []
        pooled = False
        stack = list(children.get(unit, ()))
        while stack:
            kid = stack.pop()
            if kid in hidden:
                pooled = True
                stack.extend(children.get(kid, ()))
            else:
                found.append(kid)
        return found if pooled else None

    def extreme(num: int, den: int) -> bool:
        return den > 0 and num in (0, den)

    order = sorted(children, key=lambda unit: (-depth(unit), size[unit]))
    while True:
        before = len(hidden)
        for unit in order:
            if unit in hidden or extreme(*shares.get(unit, (0, 0))):
                continue
            while unit not in hidden and (taken := subtracted(unit)) is not None:
                num, den = shares.get(unit, (0, 0))
                for other in taken:
                    num -= shares.get(other, (0, 0))[0]
                    den -= shares.get(other, (0, 0))[1]
                if not extreme(num, den):
                    break
                hide(min(taken, key=size.__getitem__) if taken else unit)
        if len(hidden) == before:
            return hidden
        settle()


def dataset_of(code: str, request: HttpRequest) -> Dataset:
    province = (
        AdminUnit.objects.filter(
            hierarchy=Hierarchy.CURRENT, level=Level.PROVINCE, code=code
        ).first()
        if code.isascii() and code.isdigit()
        else None
    )
    if province is None:
        raise ApiError(404, "unknown_unit", f"No province has the code {code[:10]!r}.")
    wanted = request.GET.get("period_type", "").strip()
    if wanted and wanted not in OPEN_PERIOD_TYPES:
        raise bad("bad_period_type", "period_type must be month, quarter or year.")
    communes = set(
        AdminUnit.objects.filter(
            hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, province=province
        ).values_list("id", flat=True)
    )
    unit_ids: dict[str, set[int]] = {UnitType.PROVINCE: {province.pk}, UnitType.COMMUNE: communes}
    unit_ids.update(former_units_within(province.pk))
    return Dataset(province, unit_ids, (wanted,) if wanted else OPEN_PERIOD_TYPES)


def _public(response: _R) -> _R:
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@public_view
def catalogue(request: HttpRequest) -> HttpResponse:
    """Provinces with figures, and where their files are."""
    ids = (
        IndicatorValue.objects.filter(unit_type=UnitType.PROVINCE)
        .values_list("unit_id", flat=True)
        .distinct()
    )
    provinces = AdminUnit.objects.filter(id__in=ids).order_by("code")
    return _public(
        JsonResponse(
            {
                "data": [
                    {
                        "province": p.code,
                        "name": p.name,
                        **{
                            key: request.build_absolute_uri(
                                reverse(f"api:open_{key}", args=[p.code])
                            )
                            for key in ("csv", "json", "csv_metadata", "json_metadata")
                        },
                    }
                    for p in provinces
                ]
            }
        )
    )


@public_view
def values_csv(request: HttpRequest, province: str) -> HttpResponseBase:
    dataset = dataset_of(province, request)
    names = [c[0] for c in COLUMNS]
    lines = _csv_lines(
        names,
        ([("" if r[n] is None else r[n]) for n in names] for r in dataset.rows()),
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cnsc-{province}.csv"'
    response["Link"] = (
        f"<{request.build_absolute_uri(reverse('api:open_csv_metadata', args=[province]))}>; "
        'rel="describedby"; type="application/csvm+json"'
    )
    return _public(response)


@public_view
def values_json(request: HttpRequest, province: str) -> HttpResponseBase:
    dataset = dataset_of(province, request)
    metadata = request.build_absolute_uri(reverse("api:open_json_metadata", args=[province]))

    def chunks() -> Iterator[str]:
        yield json.dumps({"metadata": metadata, "province": province})[:-1] + ', "data": ['
        first = True
        for row in dataset.rows():
            yield ("" if first else ",") + json.dumps(row, ensure_ascii=False)
            first = False
        yield "]}"

    return _public(StreamingHttpResponse(chunks(), content_type="application/json"))


@public_view
def csv_metadata(request: HttpRequest, province: str) -> HttpResponse:
    return _public(_metadata(request, province, "csv"))


@public_view
def json_metadata(request: HttpRequest, province: str) -> HttpResponse:
    return _public(_metadata(request, province, "json"))


def _metadata(request: HttpRequest, code: str, kind: str) -> JsonResponse:
    dataset = dataset_of(code, request)
    province = dataset.province
    url = request.build_absolute_uri(reverse(f"api:open_{kind}", args=[code]))
    own = request.build_absolute_uri()
    span = IndicatorValue.objects.filter(
        unit_type=UnitType.PROVINCE, unit_id=province.pk, period_type__in=dataset.period_types
    ).aggregate(first=Min("period_start"), last=Max("period_start"), modified=Max("computed_at"))
    today = timezone.localdate().isoformat()
    start = span["first"].isoformat() if span["first"] else today
    modified = _iso(span["modified"]) if span["modified"] else None
    title_vi = f"Chỉ tiêu chuyển đổi số cộng đồng — {province.name}"
    title_en = f"Community digital transformation indicators — {province.name}"
    with override("en"):
        indicators = [
            {
                "@type": "DefinedTerm",
                "termCode": i.code,
                "name": [
                    {"@language": "en", "@value": str(i.name)},
                    {"@language": "vi", "@value": i.name_vi},
                ],
                "description": str(i.numerator) + (f" ÷ {i.denominator}" if i.denominator else ""),
            }
            for i in CATALOGUE
        ]
    media = "text/csv" if kind == "csv" else "application/json"
    document: dict[str, Any] = {
        "@context": {
            "@vocab": "https://schema.org/",
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "csvw": "http://www.w3.org/ns/csvw#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@type": ["Dataset", "dcat:Dataset"],
        "@id": own,
        "name": [{"@language": "vi", "@value": title_vi}, {"@language": "en", "@value": title_en}],
        "dct:title": [
            {"@language": "vi", "@value": title_vi},
            {"@language": "en", "@value": title_en},
        ],
        "description": [
            {
                "@language": "vi",
                "@value": (
                    "Số liệu tổng hợp về hoạt động của các Tổ công nghệ số cộng đồng theo tỉnh, "
                    "xã và đơn vị hành chính trước ngày 1/7/2025, theo tháng, quý và năm. Không "
                    "có dữ liệu cá nhân; số liệu của đơn vị có dưới "
                    f"{settings.OPEN_DATA_MIN_HOUSEHOLDS} hộ, và tỷ lệ có mẫu số nhỏ hơn "
                    "mức đó, được ẩn. Vì số liệu của tỉnh là tổng của các xã (và của đơn vị "
                    "cũ là tổng của các đơn vị cấp dưới), khi trong một nhóm (đơn vị cấp trên "
                    "và các đơn vị trực thuộc) chỉ có một số liệu bị ẩn thì số liệu của đơn vị "
                    "trực thuộc nhỏ nhất còn lại (theo mẫu số hoặc số hộ) cũng được ẩn, lặp lại "
                    "cho đến khi không còn nhóm nào chỉ có một số liệu bị ẩn, để không thể suy "
                    "ra số liệu bị ẩn bằng phép trừ. Khi tổng các số liệu bị ẩn dưới một đơn vị "
                    "được công bố (số liệu của đơn vị đó trừ các số liệu được công bố bên dưới) "
                    "là tỷ lệ 0% hoặc 100%, tức là cho biết điều đó về mọi người trong các đơn "
                    "vị ấy, thì số liệu được công bố nhỏ nhất trong số đó cũng được ẩn, cho đến "
                    "khi không còn tổng nào như vậy (trừ khi chính tỷ lệ của đơn vị đó đã là 0% "
                    "hoặc 100%). Đơn vị có quá ít hộ có một dòng bị ẩn cho mọi chỉ tiêu có "
                    "trong tệp ở kỳ đó, để việc thiếu một dòng không cho biết số liệu bằng 0."
                ),
            },
            {
                "@language": "en",
                "@value": (
                    "Aggregate figures on the community digital technology teams' work, by "
                    "province, commune and the units before 1 July 2025, by month, quarter and "
                    "year. No personal data; figures of units with fewer than "
                    f"{settings.OPEN_DATA_MIN_HOUSEHOLDS} households, and shares over fewer "
                    "than that, are withheld. As a province's figure is the sum of its "
                    "communes' (and a former unit's the sum of the units under it), wherever a "
                    "unit and the units under it have exactly one withheld figure, the "
                    "smallest other unit under it (by denominator, or households) is withheld "
                    "too, and so on until no such group has exactly one, so that no withheld "
                    "figure can be worked out by subtraction. Where the withheld figures under a "
                    "published unit add up (its figure less the published ones under it) to a "
                    "share of 0% or 100%, which would say so of every person in them, the "
                    "smallest of those published figures is withheld too, until none does "
                    "(unless the unit's own share is 0% or 100%). A unit with too few "
                    "households has a withheld line for every indicator the file has in that "
                    "period, so that a missing line does not show a zero."
                ),
            },
        ],
        "publisher": {
            "@type": "GovernmentOrganization",
            "name": f"Ủy ban nhân dân {province.name}",
            "identifier": province.code,
        },
        "dct:publisher": {"@type": "dct:Agent", "name": f"Ủy ban nhân dân {province.name}"},
        "license": LICENCE,
        "dct:license": {"@id": LICENCE},
        "isAccessibleForFree": True,
        "inLanguage": ["vi", "en"],
        "keywords": ["chuyển đổi số", "Tổ công nghệ số cộng đồng", "VNeID", "DHIS2"],
        "temporalCoverage": f"{start}/{today}",
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": {"@value": start, "@type": "xsd:date"},
            "dcat:endDate": {"@value": today, "@type": "xsd:date"},
        },
        "spatialCoverage": {
            "@type": "AdministrativeArea",
            "name": province.name,
            "identifier": province.code,
        },
        "dct:spatial": {"@type": "dct:Location", "name": province.name},
        "dateModified": modified,
        "dct:modified": modified,
        "distribution": [
            {
                "@type": ["DataDownload", "dcat:Distribution"],
                "contentUrl": url,
                "dcat:downloadURL": {"@id": url},
                "encodingFormat": media,
                "dcat:mediaType": media,
            }
        ],
        "variableMeasured": [
            {
                "@type": "PropertyValue",
                "name": name,
                "description": [
                    {"@language": "en", "@value": en},
                    {"@language": "vi", "@value": vi},
                ],
                "valueReference": datatype,
            }
            for name, datatype, en, vi in COLUMNS
        ],
        "about": indicators,
    }
    if kind == "csv":
        document["csvw:url"] = url
        document["csvw:tableSchema"] = {
            "csvw:column": [
                {
                    "csvw:name": name,
                    "csvw:titles": name,
                    "csvw:datatype": datatype,
                    "dct:description": en,
                }
                for name, datatype, en, _vi in COLUMNS
            ]
        }
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/ld+json"
    return response
