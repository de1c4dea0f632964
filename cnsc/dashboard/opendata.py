"""Open data: a province's figures for anyone, as CSV and JSON, each with a JSON-LD metadata file
that reads as a schema.org Dataset and a DCAT dataset (and, for the CSV, a CSVW table schema).

Aggregates only, for the province, its communes and the former units wholly inside it (no
hamlet, no team); months, quarters and years. No figure may single out a person: a unit with
fewer than ``OPEN_DATA_MIN_HOUSEHOLDS`` households in a period has all its figures of that
period withheld, and so has every share whose denominator is smaller than that. A withheld
figure keeps its line, marked ``suppressed``, so a reader knows it exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Max, Min
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
from .units import former_units_within, refs_by_id

_R = TypeVar("_R", bound=HttpResponseBase)
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
        "ok, or suppressed (withheld: too few households).",
        "ok hoặc suppressed.",
    ),
    (
        "computed_at",
        "dateTime",
        "When the figure was computed (Asia/Ho_Chi_Minh).",
        "Thời điểm tính.",
    ),
)


@dataclass
class Dataset:
    province: AdminUnit
    unit_ids: dict[str, set[int]]
    period_types: tuple[str, ...]

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every figure, withheld ones marked, in a stable order."""
        minimum = settings.OPEN_DATA_MIN_HOUSEHOLDS
        households = self.households()
        names = {
            (unit_type, unit_id): ref
            for unit_type, ids in self.unit_ids.items()
            for unit_id, ref in refs_by_id(unit_type, ids).items()
        }
        for unit_type, ids in self.unit_ids.items():
            if not ids:
                continue
            rows = (
                IndicatorValue.objects.filter(
                    unit_type=unit_type, unit_id__in=ids, period_type__in=self.period_types
                )
                .order_by("unit_id", "indicator", "period_type", "period_start")
                .values_list(
                    "unit_id",
                    "indicator",
                    "period",
                    "numerator",
                    "denominator",
                    "value",
                    "computed_at",
                )
            )
            for unit_id, code, period, num, den, value, at in rows.iterator(chunk_size=5000):
                indicator = INDICATORS[code]
                small_unit = households.get((unit_type, unit_id, period), 0) < minimum
                small_share = (
                    indicator.is_percent
                    and not indicator.roster_target
                    and den is not None
                    and 0 < den < minimum
                )
                ref = names[(unit_type, unit_id)]
                withheld = small_unit or small_share
                yield {
                    "indicator": code,
                    "period": period,
                    "unit_code": ref.code,
                    "unit_name": ref.name,
                    "unit_type": unit_type,
                    "value": None if withheld else value_number(code, value),
                    "unit": indicator.measure,
                    "numerator": None if withheld else num,
                    "denominator": None if withheld else den,
                    "status": "suppressed" if withheld else "ok",
                    "computed_at": _iso(at),
                }

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
                    f"{settings.OPEN_DATA_MIN_HOUSEHOLDS} hộ được ẩn."
                ),
            },
            {
                "@language": "en",
                "@value": (
                    "Aggregate figures on the community digital technology teams' work, by "
                    "province, commune and the units before 1 July 2025, by month, quarter and "
                    "year. No personal data; figures of units with fewer than "
                    f"{settings.OPEN_DATA_MIN_HOUSEHOLDS} households are withheld."
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
