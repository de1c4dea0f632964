"""Dashboards for people: a page per province, commune, hamlet, team and former unit, with its
.xlsx tables and its monthly PDF report. Official codes in the URLs, never primary keys; another
unit's page answers 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.core.pdf import pdf_response
from cnsc.geo.models import AdminUnit, Hierarchy, Level

from . import reports
from .indicators import UnitType
from .pages import BadInputError, Page, period_from, reach_of, unit_url, visible_or_404
from .periods import PeriodType
from .units import UnitRef, ref_of_unit, resolve


def _bad(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "dashboard/bad_input.html", {"message": message}, status=400)


def _page(request: HttpRequest, ref: UnitRef) -> Page:
    period = period_from(request)
    descending = request.GET.get("dir", "desc") != "asc"
    group = request.GET.get("group", "")
    if group not in ("", "commune", "former_district"):
        raise BadInputError(_("Group by commune or by former district."))
    return Page(
        ref=ref,
        period=period,
        reach=reach_of(request),
        group=group,
        sort=request.GET.get("sort", "")[:60],
        descending=descending,
        defaulted=not request.GET.get("period", "").strip(),
    )


def _show(request: HttpRequest, ref: UnitRef | None) -> HttpResponse:
    ref = visible_or_404(request, ref)
    try:
        page = _page(request, ref)
    except BadInputError as exc:
        return _bad(request, str(exc))
    return render(request, "dashboard/page.html", {"page": page, "unit_url": unit_url(ref)})


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The viewer's own units: straight to the page when there is one."""
    reach = reach_of(request)
    if reach.teams is not None:
        from .units import refs_by_id

        refs = sorted(refs_by_id(UnitType.TEAM, reach.teams).values(), key=lambda r: r.name)
    elif reach.everything:
        refs = [
            ref_of_unit(u)
            for u in AdminUnit.objects.filter(
                hierarchy=Hierarchy.CURRENT, level=Level.PROVINCE
            ).order_by("name")
        ]
    else:
        refs = [
            ref_of_unit(u)
            for u in AdminUnit.objects.filter(id__in=reach.scope.assigned).order_by("level", "name")
        ]
    if len(refs) == 1:
        return redirect(unit_url(refs[0]))
    return render(
        request,
        "dashboard/home.html",
        {"units": [(r, unit_url(r)) for r in refs]},
    )


@require_safe
@login_required
def province(request: HttpRequest, code: str) -> HttpResponse:
    ref = resolve(code)
    return _show(request, ref if ref and ref.type == UnitType.PROVINCE else None)


@require_safe
@login_required
def commune(request: HttpRequest, code: str) -> HttpResponse:
    ref = resolve(code)
    return _show(request, ref if ref and ref.type == UnitType.COMMUNE else None)


@require_safe
@login_required
def hamlet(request: HttpRequest, code: str) -> HttpResponse:
    ref = resolve(code)
    return _show(request, ref if ref and ref.type == UnitType.HAMLET else None)


@require_safe
@login_required
def team(request: HttpRequest, commune: str, code: str) -> HttpResponse:
    ref = resolve(f"{commune}-{code}")
    return _show(request, ref if ref and ref.type == UnitType.TEAM else None)


@require_safe
@login_required
def former(request: HttpRequest, code: str) -> HttpResponse:
    ref = resolve(f"F{code}")
    return _show(request, ref if ref and ref.is_former else None)


def _ref_from_path(kind: str, code: str) -> UnitRef | None:
    if kind == "p":
        ref = resolve(code)
        return ref if ref and ref.type == UnitType.PROVINCE else None
    if kind == "c":
        ref = resolve(code)
        return ref if ref and ref.type == UnitType.COMMUNE else None
    if kind == "h":
        ref = resolve(code)
        return ref if ref and ref.type == UnitType.HAMLET else None
    if kind == "f":
        ref = resolve(f"F{code}")
        return ref if ref and ref.is_former else None
    raise Http404


@require_safe
@login_required
def export_table(request: HttpRequest, kind: str, code: str, table: str) -> HttpResponse:
    """One table of a page as .xlsx, with the same period, grouping and order as on screen.
    Aggregates only, but recorded in the audit log like every export."""
    ref = visible_or_404(request, _ref_from_path(kind, code))
    try:
        page = _page(request, ref)
    except BadInputError as exc:
        return _bad(request, str(exc))
    chosen = page.table(table)
    content, filename = reports.table_workbook(page, chosen)
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        target=f"dashboard.{chosen.key}",
        detail={"unit": ref.code, "period": page.period.code, "file": filename},
        rows=len(chosen.rows),
    )
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@login_required
def monthly_report(request: HttpRequest, kind: str, code: str) -> HttpResponse:
    """The month's report of a province or a commune as a PDF an official can send upwards."""
    if kind not in ("p", "c"):
        raise Http404
    ref = visible_or_404(request, _ref_from_path(kind, code))
    try:
        page = _page(request, ref)
    except BadInputError as exc:
        return _bad(request, str(exc))
    if page.period.type != PeriodType.MONTH:
        return HttpResponseBadRequest(_("The monthly report is for a month, such as 202611."))
    content, filename = reports.monthly_pdf(page)
    audit_record(
        user=request.user,
        action=AuditAction.EXPORT,
        target="dashboard.monthly_report",
        detail={"unit": ref.code, "period": page.period.code, "file": filename},
        rows=sum(len(t.rows) for t in page.tables),
    )
    return pdf_response(content, filename=filename)
