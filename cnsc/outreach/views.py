"""Back-office pages for the household list (import with a preview, template, masked export) and
for a resident's rights (their data as PDF or JSON, erasure). Plain function views inside the
back office's look; every object comes from ``visible_to(user)``: another commune's resident is
a 404, a user without a unit sees an empty list, a read-only user gets 403 on every write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cnsc.core.pdf import pdf_response
from cnsc.core.spreadsheets import XLSX, ImportFileError
from cnsc.core.types import Viewer
from cnsc.core.uploads import discard, keep_upload, open_kept
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level

from .exports import ExportTooLargeError, export_households, may_see_personal_data
from .imports import ImportResult, import_households, template
from .models import FieldReport, Household, Resident, Visit, VisitPhoto
from .rights import resident_erase, resident_export

IMPORT_SALT = "cnsc.outreach.household-import"
IMPORT_PERMISSIONS = (
    "outreach.add_household",
    "outreach.change_household",
    "outreach.add_resident",
    "outreach.change_resident",
)


def _communes(user: Viewer) -> Any:
    return AdminUnit.objects.visible_to(user).filter(
        hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE
    )


def _require(request: HttpRequest, *permissions: str) -> None:
    if not request.user.has_perms(permissions):
        raise PermissionDenied


def _page(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **admin.site.each_context(request),
        "opts": Household._meta,
        "title": title,
        **extra,
    }


def _download(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=filename) or "attachment"
    )
    # Files of personal data: never kept by a shared cache or the browser's disk cache.
    response["Cache-Control"] = "no-store"
    return response


# --- Import ---------------------------------------------------------------------------------


class ImportForm(forms.Form):
    commune = forms.ModelChoiceField(
        label=_("Commune or ward"), queryset=AdminUnit.objects.none(), empty_label=None
    )
    file = forms.FileField(
        label=_("Household list (.xlsx or .csv)"),
        help_text=_("Fill in the template; the first row holds the column names."),
    )

    def __init__(self, *args: Any, user: Viewer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["commune"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = _communes(user).order_by("name")


def _preview(request: HttpRequest, result: ImportResult, *, token: str) -> TemplateResponse:
    counts = result.counts
    context = _page(
        request,
        gettext("Preview of the household import"),
        result=result,
        token=token,
        counts=[
            (gettext("Rows read"), result.rows),
            (gettext("Households to create"), counts["households_create"]),
            (gettext("Households to update"), counts["households_update"]),
            (gettext("Households unchanged"), counts["households_unchanged"]),
            (gettext("Residents to create"), counts["residents_create"]),
            (gettext("Residents to update"), counts["residents_update"]),
            (gettext("Residents moving in from another household"), counts["residents_move"]),
            (gettext("Residents unchanged"), counts["residents_unchanged"]),
            (gettext("Service states moving forward"), counts["states"]),
            (gettext("Errors"), result.error_count),
        ],
        more_errors=result.error_count - len(result.errors),
        more_warnings=result.warning_count - len(result.warnings),
    )
    return TemplateResponse(request, "outreach/import_preview.html", context)


@staff_member_required
@require_http_methods(["GET", "POST"])
def household_import(request: HttpRequest) -> HttpResponse:
    """Upload, preview (a dry run that writes nothing), then apply with the preview's token."""
    _require(request, *IMPORT_PERMISSIONS)
    if request.method == "POST" and request.POST.get("token"):
        return _import_apply(request)
    posted = request.method == "POST"
    form = ImportForm(
        request.POST if posted else None, request.FILES if posted else None, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        commune = form.cleaned_data["commune"]
        try:
            result = import_households(
                upload=upload,
                size=upload.size,
                commune=commune,
                user=request.user,
                apply=False,
                file_name=upload.name,
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            token = ""
            if result.ok:
                token = keep_upload(
                    upload,
                    salt=IMPORT_SALT,
                    user_id=int(request.user.pk or 0),
                    commune=commune.pk,
                    name=upload.name[:100],
                )
            return _preview(request, result, token=token)
    context = _page(
        request,
        gettext("Import households and residents"),
        form=form,
        max_mb=settings.HOUSEHOLD_IMPORT_MAX_BYTES // 1_048_576,
    )
    return TemplateResponse(request, "outreach/import_form.html", context)


def _import_apply(request: HttpRequest) -> HttpResponse:
    path, kept = open_kept(
        request.POST["token"], salt=IMPORT_SALT, user_id=int(request.user.pk or 0)
    )
    commune = _communes(request.user).filter(pk=kept["commune"]).first()
    if commune is None:
        raise PermissionDenied
    try:
        with path.open("rb") as stream:
            result = import_households(
                upload=stream,
                size=path.stat().st_size,
                commune=commune,
                user=request.user,
                apply=True,
                file_name=kept["name"],
            )
    except ImportFileError as exc:
        discard(path)
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("outreach:household_import"))
    discard(path)
    if not result.applied:
        # The data changed since the preview: show what is wrong now; nothing was written.
        return _preview(request, result, token="")
    counts = result.counts
    messages.success(
        request,
        gettext(
            "Imported into %(commune)s: %(hc)d households created, %(hu)d updated; %(rc)d "
            "residents created, %(ru)d updated, %(rm)d moved; %(states)d service states moved "
            "forward."
        )
        % {
            "commune": commune.name,
            "hc": counts["households_create"],
            "hu": counts["households_update"],
            "rc": counts["residents_create"],
            "ru": counts["residents_update"],
            "rm": counts["residents_move"],
            "states": counts["states"],
        },
    )
    return HttpResponseRedirect(reverse("admin:outreach_household_changelist"))


@staff_member_required
def household_template(request: HttpRequest) -> HttpResponse:
    _require(request, "outreach.view_household")
    return _download(template(), content_type=XLSX, filename="cnsc-mau-ho-gia-dinh.xlsx")


# --- Export ---------------------------------------------------------------------------------


class ExportForm(forms.Form):
    commune = forms.ModelChoiceField(
        label=_("Commune or ward"), queryset=AdminUnit.objects.none(), required=False
    )
    hamlet = forms.ModelChoiceField(
        label=_("Hamlet or quarter"), queryset=Hamlet.objects.none(), required=False
    )

    def __init__(self, *args: Any, user: Viewer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        commune = self.fields["commune"]
        hamlet = self.fields["hamlet"]
        assert isinstance(commune, forms.ModelChoiceField)
        assert isinstance(hamlet, forms.ModelChoiceField)
        commune.queryset = _communes(user).order_by("name")
        hamlet.queryset = Hamlet.objects.visible_to(user).select_related("commune")


@staff_member_required
@require_http_methods(["GET", "POST"])
def household_export(request: HttpRequest) -> HttpResponse:
    """Choose a commune or hamlet, get the .xlsx. Masked unless the user may see personal data;
    recorded either way."""
    _require(request, "outreach.view_resident")
    form = ExportForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        residents = Resident.objects.visible_to(request.user)
        filters: dict[str, Any] = {}
        if form.cleaned_data["commune"] is not None:
            residents = residents.filter(household__commune=form.cleaned_data["commune"])
            filters["commune"] = form.cleaned_data["commune"].code
        if form.cleaned_data["hamlet"] is not None:
            residents = residents.filter(household__hamlet=form.cleaned_data["hamlet"])
            filters["hamlet"] = form.cleaned_data["hamlet"].code
        try:
            data, name = export_households(residents=residents, user=request.user, filters=filters)
        except ExportTooLargeError as exc:
            form.add_error(None, str(exc))
        else:
            return _download(data, content_type=XLSX, filename=name)
    context = _page(
        request,
        gettext("Export households and residents"),
        form=form,
        unmasked=may_see_personal_data(request.user),
    )
    return TemplateResponse(request, "outreach/export_form.html", context)


# --- A resident's rights --------------------------------------------------------------------


def _resident(request: HttpRequest, code: str) -> Resident:
    return get_object_or_404(
        Resident.objects.visible_to(request.user).select_related(
            "household", "household__hamlet", "household__commune"
        ),
        code=code,
    )


@staff_member_required
def resident_rights(request: HttpRequest, code: str) -> HttpResponse:
    """What a resident may ask: their data, its correction, its erasure."""
    _require(request, "outreach.view_resident")
    resident = _resident(request, code)
    may_act = request.user.has_perm("outreach.change_resident")
    context = _page(
        request,
        gettext("Personal data of a resident"),
        resident=resident,
        may_act=may_act,
        change_url=reverse("admin:outreach_resident_change", args=[resident.pk]),
    )
    context["opts"] = Resident._meta
    return TemplateResponse(request, "outreach/resident_rights.html", context)


@staff_member_required
def resident_data_export(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    # The full, unmasked data of one person: for the officials who handle the person's request.
    _require(request, "outreach.change_resident")
    resident = _resident(request, code)
    content, name = resident_export(resident=resident, user=request.user, fmt=fmt)
    if fmt == "pdf":
        return pdf_response(content, filename=name)
    return _download(content, content_type="application/json", filename=name)


@staff_member_required
@require_POST
def resident_data_erase(request: HttpRequest, code: str) -> HttpResponse:
    _require(request, "outreach.change_resident")
    resident = _resident(request, code)
    if request.POST.get("confirm") != resident.code:
        messages.error(request, gettext("Type the resident's code to confirm the erasure."))
        return HttpResponseRedirect(reverse("outreach:resident_rights", args=[resident.code]))
    try:
        resident_erase(resident=resident, user=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(
            request,
            gettext(
                "The resident's personal data was erased. Anonymous counts are kept so that "
                "reported figures do not change."
            ),
        )
    return HttpResponseRedirect(reverse("outreach:resident_rights", args=[resident.code]))


PHOTO_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@staff_member_required
@require_safe
def photo(request: HttpRequest, path: str) -> FileResponse:
    """A visit's or a field report's photo, for whoever may see that visit or report; anyone
    else, and any path that is not a stored photo, gets 404 (paths are random, never a
    person's name). The web server never serves the media folder itself: photos show households
    and people."""
    extension = path.rsplit(".", 1)[-1].lower()
    if len(path) > 200 or extension not in PHOTO_TYPES:
        raise Http404
    stored: Any = VisitPhoto.objects.filter(
        visit__in=Visit.objects.visible_to(request.user), file=path
    ).first()
    file = stored.file if stored is not None else None
    if file is None:
        report = FieldReport.objects.visible_to(request.user).filter(photo=path).first()
        file = report.photo if report is not None else None
    if not file:
        raise Http404
    try:
        handle = file.open("rb")
    except OSError:
        raise Http404 from None
    return FileResponse(handle, content_type=PHOTO_TYPES[extension])
