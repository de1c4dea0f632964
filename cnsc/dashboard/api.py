"""The read-only API for machines (the operations centre, an open-data portal): /api/v1/.

Token per client (``Authorization: Bearer cnsc_…``), scoped like a user assigned to the client's
units. Units by official code (cnsc.dashboard.units), periods in DHIS2 notation
(cnsc.dashboard.periods), figures precomputed (never read from the raw tables here). Every
error is JSON with a code and a sentence: 400 for input that cannot be used, 401 without a
valid token, 403 for a unit outside the token's scope, 404 for a code that does not exist. The
document describing all of it is /api/v1/openapi.json (cnsc.dashboard.openapi).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.views.decorators.http import require_safe
from django_ratelimit.core import get_usage

from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level
from cnsc.team.models import Team

from .indicators import CATALOGUE, INDICATORS, Indicator, UnitType
from .models import ApiClient, IndicatorValue, hash_token
from .periods import Period, PeriodError, PeriodType, horizon, parse_period, periods_between
from .selectors import values_query
from .units import (
    FORMER_TYPES,
    Reach,
    UnitRef,
    admin_unit_code,
    former_communes_of,
    former_districts_of,
    former_units_within,
    reach_of_units,
    ref_of_unit,
    refs_by_id,
    resolve,
)

PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
MAX_UNITS, MAX_PERIODS = 100, 120
# Longest range per period type: ten years of months, quarters and years; a year of weeks and
# days (finer figures are not kept longer anyway).
MAX_RANGE: dict[str, int] = {
    PeriodType.DAY: 366,
    PeriodType.WEEK: 53,
    PeriodType.MONTH: 120,
    PeriodType.QUARTER: 40,
    PeriodType.YEAR: 10,
}
# A file (CSV, dataValueSets) answers at most this many figures; ask for less or page the JSON.
MAX_FILE_ROWS = 200_000
LAST_USED_EVERY = dt.timedelta(minutes=1)


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after


def bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse({"error": error.code, "message": error.message}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="cnsc"'
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def _throttle(request: HttpRequest, group: str, key: str, rate: str) -> None:
    """Counts the request against ``key``'s allowance (a client, or a visitor's IP for the
    public documents); past it, 429 with the seconds until the window turns. Counted in the
    shared cache, so one busy client never slows another."""
    usage = get_usage(request, group=group, key=lambda _g, _r: key, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests: at most {rate.replace('/', ' per ')}. Try again later.",
            retry_after=max(1, usage["time_left"]),
        )


def _client(request: HttpRequest) -> ApiClient:
    """The client whose token the request carries. Its allowance is counted (by the token's
    hash) before the token is looked up, so a client past it costs no database query."""
    header = request.headers.get("Authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "token_missing", "Send the client's token: Authorization: Bearer <token>."
        )
    token_hash = hash_token(token.strip())
    _throttle(request, "api", f"token:{token_hash}", settings.API_RATE_LIMIT)
    client = ApiClient.objects.active().filter(token_hash=token_hash).first()
    if client is None:
        raise ApiError(401, "token_invalid", "This token is unknown or has been withdrawn.")
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_EVERY:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    return client


def reach_of_client(client: ApiClient) -> Reach:
    cached = getattr(client, "_reach", None)
    if cached is None:
        cached = reach_of_units(frozenset(client.units.values_list("id", flat=True)))
        client._reach = cached  # type: ignore[attr-defined]
    return cached


ApiView = Callable[[HttpRequest, Reach], HttpResponseBase]


def api_view(view: ApiView) -> Callable[[HttpRequest], HttpResponseBase]:
    """Token check, then the view; ApiError becomes its JSON answer."""

    @functools.wraps(view)
    @require_safe
    def wrapper(request: HttpRequest) -> HttpResponseBase:
        try:
            client = _client(request)
            return view(request, reach_of_client(client))
        except ApiError as error:
            return error_response(error)

    return wrapper


def public_view(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    @functools.wraps(view)
    @require_safe
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            ip = request.META.get(settings.RATELIMIT_IP_META_KEY, "")
            _throttle(request, "api-public", f"ip:{ip}", settings.API_PUBLIC_RATE_LIMIT)
            return view(request, *args, **kwargs)
        except ApiError as error:
            return error_response(error)

    return wrapper


# --- Parameters ---------------------------------------------------------------------------------


def _list(request: HttpRequest, name: str, *, limit: int) -> list[str]:
    items = list(
        dict.fromkeys(p.strip() for p in request.GET.get(name, "").split(",") if p.strip())
    )
    if len(items) > limit:
        raise bad("too_many", f"At most {limit} values of {name} in one request.")
    return items


def parse_indicators(request: HttpRequest) -> list[Indicator]:
    codes = _list(request, "indicator", limit=len(CATALOGUE))
    if not codes:
        return list(CATALOGUE)
    unknown = [c for c in codes if c not in INDICATORS]
    if unknown:
        raise ApiError(
            404,
            "unknown_indicator",
            f"No indicator has the code {unknown[0][:40]!r}; see /api/v1/indicators.",
        )
    return [INDICATORS[c] for c in codes]


def unit_of(code: str, reach: Reach) -> UnitRef:
    ref = resolve(code)
    if ref is None:
        raise ApiError(404, "unknown_unit", f"No unit has the code {code[:40]!r}.")
    if not reach.sees(ref):
        raise ApiError(403, "out_of_scope", f"This token may not read unit {code[:40]!r}.")
    return ref


def parse_units(request: HttpRequest, reach: Reach) -> list[UnitRef]:
    codes = _list(request, "unit", limit=MAX_UNITS)
    if not codes:
        raise bad("unit_missing", "Name one or more units: unit=79 or unit=25747,25750.")
    refs = [unit_of(code, reach) for code in codes]
    level = request.GET.get("level", "").strip()
    if level:
        refs = [child for ref in refs for child in children_of(ref, level, reach)]
    return refs


# Which units each level= lists the units of, as the pages drill down: the current tree, and
# the former one (a former province's districts and communes, a former commune's hamlets).
LEVEL_WITHIN: dict[str, tuple[str, ...]] = {
    UnitType.COMMUNE: (UnitType.PROVINCE,),
    UnitType.HAMLET: (UnitType.PROVINCE, UnitType.COMMUNE, UnitType.FORMER_COMMUNE),
    UnitType.TEAM: (UnitType.PROVINCE, UnitType.COMMUNE),
    UnitType.FORMER_PROVINCE: (UnitType.PROVINCE,),
    UnitType.FORMER_DISTRICT: (UnitType.PROVINCE, UnitType.FORMER_PROVINCE),
    UnitType.FORMER_COMMUNE: (
        UnitType.PROVINCE,
        UnitType.FORMER_PROVINCE,
        UnitType.FORMER_DISTRICT,
    ),
}


def either(types: Iterable[str]) -> str:
    """Unit types in words, as in "province, commune or former commune"."""
    words = [t.replace("_", " ") for t in types]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def children_of(ref: UnitRef, level: str, reach: Reach) -> list[UnitRef]:
    """The units of type ``level`` inside ``ref`` (for level=...)."""
    if level not in LEVEL_WITHIN:
        raise bad(
            "bad_level",
            "level must be commune, hamlet, team, former_province, former_district or "
            "former_commune.",
        )
    if ref.type not in LEVEL_WITHIN[level]:
        raise bad(
            "bad_level",
            f"level={level} lists the units inside a {either(LEVEL_WITHIN[level])}; "
            f"{ref.code} is a {either([ref.type])}.",
        )
    if level == UnitType.COMMUNE:
        units = AdminUnit.objects.filter(
            hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, province_id=ref.id
        ).order_by("code")
        return [ref_of_unit(u) for u in units]
    if level in FORMER_TYPES:
        if ref.type == UnitType.PROVINCE:
            ids = former_units_within(ref.id)[level]
            return sorted(refs_by_id(level, ids).values(), key=lambda r: r.code)
        if level == UnitType.FORMER_DISTRICT:
            formers = former_districts_of(ref.id)
        elif ref.type == UnitType.FORMER_DISTRICT:
            formers = former_communes_of(ref.id)
        else:
            formers = AdminUnit.objects.filter(
                hierarchy=Hierarchy.FORMER, level=Level.COMMUNE, province_id=ref.id
            ).order_by("code")
        return reach.formers_seen([ref_of_unit(u) for u in formers])
    if ref.type == UnitType.FORMER_COMMUNE:
        place = {"former_commune_id": ref.id}
    elif ref.type == UnitType.COMMUNE:
        place = {"commune_id": ref.id}
    else:
        place = {"commune__province_id": ref.id}
    model: Any = Hamlet if level == UnitType.HAMLET else Team
    ids = model.objects.filter(**place).values_list("id", flat=True)
    found = [r for r in refs_by_id(level, ids).values() if reach.sees(r)]
    return sorted(found, key=lambda r: r.code)


def parse_periods(request: HttpRequest) -> list[Period]:
    listed = _list(request, "period", limit=MAX_PERIODS)
    start, end = request.GET.get("start", "").strip(), request.GET.get("end", "").strip()
    if listed and (start or end):
        raise bad("period_and_range", "Give period=..., or start=... and end=..., not both.")
    try:
        if listed:
            periods = [parse_period(p) for p in listed]
        elif start and end:
            first, last = parse_period(start), parse_period(end)
            if first.type != last.type:
                raise bad("range_types", "start and end must be periods of the same type.")
            if last.start < first.start:
                raise bad("range_order", "end comes before start.")
            span = len(list(_bounded(periods_between(first, last), MAX_RANGE[first.type])))
            if span > MAX_RANGE[first.type]:
                raise bad(
                    "range_too_long",
                    f"At most {MAX_RANGE[first.type]} periods of type {first.type} in one "
                    "request; ask for a longer period type (years) or split the range.",
                )
            periods = list(periods_between(first, last))
        else:
            raise bad(
                "period_missing",
                "Give period=202611 (or a list), or start=202501 and end=202612.",
            )
    except PeriodError as exc:
        raise bad(
            "bad_period",
            f"Periods are written as DHIS2 does: 20261130, 2026W48, 202611, 2026Q4, 2026 ({exc}).",
        ) from None
    keep = horizon()
    for period in periods:
        if period.start > keep.today:
            raise bad("future_period", f"{period.code} has not started yet.")
        if not keep.keeps(period):
            raise bad(
                "period_not_kept",
                f"Figures of type {period.type} are kept from {keep.first_kept(period.type)}; "
                f"{period.code} is older. Ask for months, quarters or years.",
            )
    return periods


def _bounded(items: Iterable[Any], limit: int) -> Iterator[Any]:
    for i, item in enumerate(items):
        if i > limit:
            return
        yield item


def _int(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    # isascii: "²" is a digit to isdigit but not to int(); the length keeps int() fast.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not low <= int(raw) <= high:
        raise bad(f"bad_{name}", f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def page_of(request: HttpRequest) -> tuple[int, int]:
    size = _int(request, "page_size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int(request, "page", 1, 1, 10**7)
    return page, size


def _page_links(request: HttpRequest, page: int, size: int, count: int) -> dict[str, Any]:
    def link(number: int) -> str:
        params = request.GET.copy()
        params["page"] = str(number)
        params["page_size"] = str(size)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    pages = max(1, -(-count // size))
    return {
        "count": count,
        "page": page,
        "page_size": size,
        "pages": pages,
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if 1 < page <= pages else None,
    }


# --- Figures ----------------------------------------------------------------------------------


@dataclass
class Selection:
    refs: list[UnitRef]
    indicators: list[Indicator]
    periods: list[Period]

    def queryset(self) -> QuerySet[IndicatorValue, tuple[Any, ...]]:
        return (
            IndicatorValue.objects.filter(
                values_query(
                    refs=self.refs,
                    indicators=[i.code for i in self.indicators],
                    periods=self.periods,
                )
            )
            .order_by("unit_type", "unit_id", "indicator", "period_start")
            .values_list(
                "unit_type",
                "unit_id",
                "indicator",
                "period",
                "period_type",
                "numerator",
                "denominator",
                "value",
                "computed_at",
            )
        )

    def codes(self) -> dict[tuple[str, int], str]:
        return {(r.type, r.id): r.code for r in self.refs}

    def check_file_size(self) -> None:
        most = len(self.refs) * len(self.indicators) * len(self.periods)
        if most > MAX_FILE_ROWS:
            raise bad(
                "too_large",
                f"This asks for up to {most:,} figures; a file holds at most "
                f"{MAX_FILE_ROWS:,}. Ask for fewer units or periods, or page through "
                "/api/v1/values.",
            )


def selection(request: HttpRequest, reach: Reach) -> Selection:
    indicators = parse_indicators(request)
    refs = parse_units(request, reach)
    periods = parse_periods(request)
    return Selection(refs, indicators, periods)


def value_number(indicator: str, value: float | None) -> float | int | None:
    if value is None:
        return None
    return round(value, 2) if INDICATORS[indicator].is_percent else round(value)


def _iso(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


@api_view
def indicators(request: HttpRequest, reach: Reach) -> HttpResponse:
    return JsonResponse({"data": [indicator_json(i) for i in CATALOGUE]})


def indicator_json(indicator: Indicator) -> dict[str, Any]:
    from django.utils.translation import override

    with override("en"):
        name, numerator = str(indicator.name), str(indicator.numerator)
        denominator = str(indicator.denominator) if indicator.denominator else None
    return {
        "code": indicator.code,
        "name": name,
        "name_vi": indicator.name_vi,
        "numerator": numerator,
        "denominator": denominator,
        "measure": indicator.measure,
        "kind": indicator.kind,
        "direction": indicator.direction,
        "unit_types": sorted(indicator.unit_types),
        "default_target": indicator.default_target,
    }


@api_view
def units(request: HttpRequest, reach: Reach) -> HttpResponse:
    """The units the token reads: its own, or those of one type inside one of them."""
    page, size = page_of(request)
    within = request.GET.get("within", "").strip()
    level = request.GET.get("level", "").strip()
    if within:
        if not level:
            raise bad("level_missing", "With within=..., say which units: level=commune.")
        refs = children_of(unit_of(within, reach), level, reach)
    elif level:
        raise bad("within_missing", "level=... lists the units inside within=<unit code>.")
    else:
        refs = [
            ref_of_unit(u)
            for u in AdminUnit.objects.filter(id__in=reach.scope.assigned).order_by("code")
        ]
    links = _page_links(request, page, size, len(refs))
    chosen = refs[(page - 1) * size : page * size]
    parents = _parent_codes(chosen)
    return JsonResponse(
        {
            **links,
            "data": [
                {
                    "code": r.code,
                    "type": r.type,
                    "name": r.name,
                    "parent": parents.get((r.type, r.id)),
                }
                for r in chosen
            ],
        }
    )


def _parent_codes(refs: list[UnitRef]) -> dict[tuple[str, int], str | None]:
    """The code of the unit each one sits in (a team's and a hamlet's commune)."""
    admin_ids = {r.id for r in refs if r.type not in (UnitType.HAMLET, UnitType.TEAM)}
    parent_of = dict(AdminUnit.objects.filter(id__in=admin_ids).values_list("id", "parent_id"))
    commune_of = {
        (r.type, r.id): r.commune_id for r in refs if r.type in (UnitType.HAMLET, UnitType.TEAM)
    }
    units = AdminUnit.objects.in_bulk(
        {p for p in parent_of.values() if p} | {c for c in commune_of.values() if c}
    )
    out: dict[tuple[str, int], str | None] = {}
    for r in refs:
        key = (r.type, r.id)
        parent_id = commune_of.get(key) if key in commune_of else parent_of.get(r.id)
        out[key] = admin_unit_code(units[parent_id]) if parent_id in units else None
    return out


@api_view
def values(request: HttpRequest, reach: Reach) -> HttpResponse:
    chosen = selection(request, reach)
    page, size = page_of(request)
    rows = chosen.queryset()
    count = rows.count()
    codes = chosen.codes()
    data = [
        {
            "indicator": indicator,
            "unit": codes[(unit_type, unit_id)],
            "unit_type": unit_type,
            "period": period,
            "period_type": period_type,
            "numerator": numerator,
            "denominator": denominator,
            "value": value_number(indicator, value),
            "measure": INDICATORS[indicator].measure,
            "computed_at": _iso(computed_at),
        }
        for (
            unit_type,
            unit_id,
            indicator,
            period,
            period_type,
            numerator,
            denominator,
            value,
            computed_at,
        ) in rows[(page - 1) * size : page * size]
    ]
    return JsonResponse({**_page_links(request, page, size, count), "data": data})


CSV_COLUMNS = ("indicator", "period", "unit_code", "value", "unit", "computed_at")


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@api_view
def values_csv(request: HttpRequest, reach: Reach) -> HttpResponseBase:
    """Long format, one figure a line: indicator, period, unit code, value, unit of measure
    (percent or count), computed at."""
    chosen = selection(request, reach)
    chosen.check_file_size()
    codes = chosen.codes()
    rows = (
        (
            indicator,
            period,
            codes[(unit_type, unit_id)],
            "" if value is None else value_number(indicator, value),
            INDICATORS[indicator].measure,
            _iso(computed_at),
        )
        for unit_type, unit_id, indicator, period, _t, _n, _d, value, computed_at in (
            chosen.queryset().iterator(chunk_size=5000)
        )
    )
    response = StreamingHttpResponse(
        _csv_lines(CSV_COLUMNS, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="cnsc-values.csv"'
    return response


@api_view
def data_value_sets(request: HttpRequest, reach: Reach) -> HttpResponse:
    """The figures in DHIS2's dataValueSets shape, identified by code: import into any DHIS2
    with idScheme=code (data element codes = indicator codes, org unit codes = unit codes)."""
    chosen = selection(request, reach)
    chosen.check_file_size()
    codes = chosen.codes()
    data = [
        {
            "dataElement": indicator,
            "period": period,
            "orgUnit": codes[(unit_type, unit_id)],
            "value": str(value_number(indicator, value)),
        }
        for unit_type, unit_id, indicator, period, _t, _n, _d, value, _at in (
            chosen.queryset().iterator(chunk_size=5000)
        )
        if value is not None
    ]
    return JsonResponse({"dataValues": data})


@public_view
def openapi_document(request: HttpRequest) -> HttpResponse:
    from .openapi import document

    response = JsonResponse(document(request.build_absolute_uri("/api/v1")))
    response["Cache-Control"] = "public, max-age=3600"
    return response
