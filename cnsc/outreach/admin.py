"""Back office for households, residents, visits, check-ins and field reports, scoped by commune
(and, for team leaders, by team).

Lists stay fast on province-sized tables: no full COUNT (ScopedAdmin's estimated paginator),
related rows joined in the same query, orderings an index serves. Visits, check-ins and service
states are read-only here: they are written from the field through the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from cnsc.core.admin import ScopedAdmin
from cnsc.core.identity import mask_phone, try_normalize_phone
from cnsc.core.params import as_id
from cnsc.geo.admin import commune_filter
from cnsc.geo.models import Hamlet
from cnsc.team.models import Team

from .forms import FieldReportForm, HouseholdForm, ResidentForm
from .models import (
    CheckIn,
    FieldReport,
    Household,
    ReportStatus,
    Resident,
    ServiceEvent,
    ServiceState,
    Visit,
    VisitOutcome,
    VisitPhoto,
)
from .services import (
    field_report_answer,
    field_report_assign,
    field_report_close,
    resident_sync_head,
)

CHOICES_LIMIT = 500


def scoped_filter(
    model: type[Any], *, field: str, title: Any, parameter: str
) -> type[admin.SimpleListFilter]:
    """A list filter on ``field`` offering the rows of ``model`` the user may see (narrowed to
    the chosen commune, when one is)."""

    class ScopedFilter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            rows = model.objects.visible_to(request.user)
            commune = as_id(request.GET.get("commune"))
            if commune is not None:
                rows = rows.filter(commune_id=commune)
            return [(str(r.pk), r.name) for r in rows.order_by("name")[:CHOICES_LIMIT]]

        def queryset(self, request: HttpRequest, queryset: Any) -> Any:
            value = as_id(self.value())
            if value is not None:
                return queryset.filter(**{f"{field}_id": value})
            return queryset

    ScopedFilter.title = title
    return ScopedFilter


HamletFilter = scoped_filter(
    Hamlet, field="hamlet", title=_("hamlet or quarter"), parameter="hamlet"
)
TeamFilter = scoped_filter(Team, field="team", title=_("team"), parameter="team")


class LastVisitFilter(admin.SimpleListFilter):
    title = _("last visit")
    parameter_name = "visited"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("never", _("Never visited")),
            ("30", _("Not in the last 30 days")),
            ("90", _("Not in the last 90 days")),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if value == "never":
            return queryset.filter(last_visited_at__isnull=True)
        if value in ("30", "90"):
            since = timezone.now() - dt.timedelta(days=int(value))
            return queryset.exclude(last_visited_at__gte=since)
        return queryset


def masked_cccd(last4: str) -> str:
    return f"••••••••{last4}" if last4 else "—"


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Households and residents ---------------------------------------------------------------


class ResidentInline(ReadOnlyInline):
    model = Resident
    fields = ("full_name", "relation_to_head", "sex", "birth_year", "cccd_masked")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Resident.objects.visible_to(request.user).filter(erased_at__isnull=True)

    @admin.display(description=_("CCCD"))
    def cccd_masked(self, resident: Resident) -> str:
        return masked_cccd(resident.cccd_last4)


@admin.register(Household)
class HouseholdAdmin(ScopedAdmin):
    form = HouseholdForm
    list_display = (
        "code",
        "address",
        "hamlet_name",
        "head",
        "team",
        "assigned_member",
        "last_visited_at",
    )
    list_filter = (commune_filter("commune"), HamletFilter, TeamFilter, LastVisitFilter)
    list_select_related = ("hamlet", "head", "team", "assigned_member")
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    # The unique index (commune, code) serves this order.
    ordering = ("commune_id", "code")
    readonly_fields = ("head", "last_visited_at", "created_at", "updated_at")
    inlines = (ResidentInline,)
    fieldsets = (
        (None, {"fields": ("code", "hamlet", "house_number", "street", "phone")}),
        (_("Location"), {"fields": ("latitude", "longitude")}),
        (_("Coverage"), {"fields": ("team", "assigned_member", "head", "last_visited_at")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description=_("address"), ordering="address_key")
    def address(self, household: Household) -> str:
        return " ".join(p for p in (household.house_number, household.street) if p) or "—"

    @admin.display(description=_("hamlet or quarter"))
    def hamlet_name(self, household: Household) -> str:
        return household.hamlet.name

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A household's visits and residents are evidence; only a superuser removes a mistake.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class ServiceStateInline(ReadOnlyInline):
    model = ServiceState
    show_change_link = False
    fields = ("service", "state", "details", "changed_at", "last_result")
    readonly_fields = fields
    verbose_name_plural = _("services now")


class ServiceEventInline(ReadOnlyInline):
    model = ServiceEvent
    show_change_link = False
    fields = ("happened_at", "service", "from_state", "to_state", "backward", "source", "visit")
    readonly_fields = fields
    ordering = ("-happened_at",)
    verbose_name_plural = _("history of services")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("visit")


@admin.register(Resident)
class ResidentAdmin(ScopedAdmin):
    form = ResidentForm
    list_display = (
        "full_name",
        "household",
        "relation_to_head",
        "birth_year",
        "phone_masked",
        "cccd_masked",
        "welfare_beneficiary",
    )
    list_filter = (
        commune_filter("household__commune"),
        "relation_to_head",
        "welfare_beneficiary",
        "owns_smartphone",
    )
    list_select_related = ("household",)
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    # A province has 900,000 households: a search box, not a drop-down.
    autocomplete_fields = ("household",)
    ordering = ("-id",)
    readonly_fields = ("code", "cccd_masked", "erased_at", "created_at", "updated_at")
    inlines = (ServiceStateInline, ServiceEventInline)
    fieldsets = (
        (
            None,
            {"fields": ("household", "full_name", "sex", "birth_year", "relation_to_head")},
        ),
        (
            _("Contact and identity"),
            {"fields": ("phone", "cccd_masked", "cccd", "remove_cccd")},
        ),
        (_("Situation"), {"fields": ("owns_smartphone", "welfare_beneficiary")}),
        (_("Record"), {"fields": ("code", "erased_at", "created_at", "updated_at")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return self.fieldsets
        stored_only = {
            "cccd_masked",
            "remove_cccd",
            "code",
            "erased_at",
            "created_at",
            "updated_at",
        }
        return [
            (title, {"fields": tuple(f for f in opts["fields"] if f not in stored_only)})
            for title, opts in self.fieldsets
            if any(f not in stored_only for f in opts["fields"])
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Moving a resident is its own recorded step (resident_move), not a field edit.
        if obj is not None:
            return (*self.readonly_fields, "household")
        return self.readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        phone = try_normalize_phone(search_term) if any(c.isdigit() for c in search_term) else None
        if phone is not None:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        resident_sync_head(obj)

    @admin.display(description=_("phone"))
    def phone_masked(self, resident: Resident) -> str:
        return mask_phone(resident.phone) or "—"

    @admin.display(description=_("CCCD"))
    def cccd_masked(self, resident: Resident) -> str:
        return masked_cccd(resident.cccd_last4)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.erased_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Residents are erased on request (keeping anonymous counts), not deleted.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


# --- Visits and check-ins -------------------------------------------------------------------


class VisitOutcomeInline(ReadOnlyInline):
    model = VisitOutcome
    show_change_link = False
    fields = ("resident", "service", "result", "new_state", "details")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("resident")


def photo_link(file: Any) -> SafeString | str:
    """A stored photo as a thumbnail linking to the full picture, both through the scoped photo
    route (the media folder itself is never served)."""
    if not file:
        return "-"
    url = reverse("outreach:photo", args=[file.name])
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" width="160" alt="{}"></a>',
        url,
        url,
        _("photo"),
    )


class VisitPhotoInline(ReadOnlyInline):
    model = VisitPhoto
    show_change_link = False
    fields = ("picture", "width", "height", "size", "created_at")
    readonly_fields = fields

    @admin.display(description=_("photo"))
    def picture(self, obj: VisitPhoto) -> SafeString | str:
        return photo_link(obj.file)


class ReadOnlyAdmin(ScopedAdmin):
    """Rows written from the field: looked at here, never changed."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ("code", "happened_at", "household", "member", "team", "source", "recorded_at")
    list_filter = (commune_filter("commune"), TeamFilter, "source")
    list_select_related = ("household", "member", "team")
    search_fields = ("code", "household__code")
    ordering = ("-happened_at",)
    inlines = (VisitOutcomeInline, VisitPhotoInline)
    fields = (
        "code",
        "household",
        "member",
        "team",
        "happened_at",
        "recorded_at",
        "edited_at",
        "source",
        "latitude",
        "longitude",
        "accuracy_m",
        "notes",
    )


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ("member", "hamlet_name", "team", "at", "distance_m", "accuracy_m", "warnings")
    list_filter = (commune_filter("hamlet__commune"), TeamFilter)
    list_select_related = ("member", "hamlet", "team")
    ordering = ("-at",)

    @admin.display(description=_("hamlet or quarter"))
    def hamlet_name(self, checkin: CheckIn) -> str:
        return checkin.hamlet.name


# --- Field reports --------------------------------------------------------------------------


@admin.register(FieldReport)
class FieldReportAdmin(ScopedAdmin):
    form = FieldReportForm
    list_display = (
        "code",
        "category",
        "created_at",
        "hamlet",
        "reporter",
        "status",
        "assigned_to",
        "answered_at",
    )
    list_filter = (commune_filter("commune"), "status", "category")
    list_select_related = ("hamlet", "reporter", "assigned_to")
    search_fields = ("code",)
    ordering = ("-created_at",)
    actions = ("close_reports",)
    readonly_fields = (
        "code",
        "category",
        "text",
        "picture",
        "reporter",
        "team",
        "commune",
        "hamlet",
        "latitude",
        "longitude",
        "status",
        "created_at",
        "answered_at",
        "closed_at",
        "reporter_notified_at",
    )
    fieldsets = (
        (None, {"fields": ("code", "category", "text", "picture", "created_at")}),
        (
            _("Where and who"),
            {"fields": ("reporter", "team", "commune", "hamlet", "latitude", "longitude")},
        ),
        (
            _("Handling"),
            {
                "fields": (
                    "status",
                    "assigned_to",
                    "answer",
                    "close",
                    "answered_at",
                    "closed_at",
                    "reporter_notified_at",
                )
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members report from the field

    @admin.display(description=_("photo"))
    def picture(self, obj: FieldReport) -> SafeString | str:
        return photo_link(obj.photo)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == ReportStatus.CLOSED:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The form checked the input; the services make the changes and keep the rules.
        if "assigned_to" in form.changed_data and obj.assigned_to is not None:
            field_report_assign(report=obj, assignee=obj.assigned_to, by=request.user)
        if "answer" in form.changed_data:
            field_report_answer(
                report=obj,
                answer=obj.answer,
                by=request.user,
                close=form.cleaned_data.get("close", False),
            )

    @admin.action(description=_("Close the selected reports"), permissions=["change"])
    def close_reports(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        closed = 0
        for report in queryset.exclude(status=ReportStatus.CLOSED):
            try:
                field_report_close(report=report, by=request.user)
            except ValidationError:
                continue  # closed by someone else meanwhile
            closed += 1
        self.message_user(
            request, _("%(count)d reports closed.") % {"count": closed}, messages.SUCCESS
        )
