"""Back office for rosters: teams, members, memberships and targets, scoped to the user's
communes, with the Excel import (dry run, then apply) and the masked export."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action

from cnsc.core.admin import ScopedAdmin
from cnsc.core.identity import mask_phone, try_normalize_phone
from cnsc.core.params import as_id, filter_id
from cnsc.geo.admin import commune_filter
from cnsc.geo.models import Hamlet
from cnsc.team.badge_views import download_member_badges, download_team_badges
from cnsc.team.exports import export_roster
from cnsc.team.forms import ImportForm, MemberForm, TeamForm, visible_communes
from cnsc.team.imports import ImportFileError, import_roster, template_workbook
from cnsc.team.models import Member, MemberRole, Membership, Target, Team
from cnsc.team.services import membership_end, membership_start

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_SALT = "cnsc.team.import"
IMPORT_MAX_AGE = 3600  # seconds between the preview and the apply
PREVIEW_ROWS = 200


def served(membership: Membership) -> str:
    """How long the member has served (or served) in this membership, e.g. "1 năm, 3 tháng"."""
    end = membership.left_on or timezone.localdate()
    if end <= membership.joined_on:
        return gettext("less than a day")
    return timesince(membership.joined_on, end, depth=2)


class HamletFilter(admin.SimpleListFilter):
    title = _("hamlet or quarter")
    parameter_name = "hamlet"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        hamlets = Hamlet.objects.visible_to(request.user).select_related("commune")
        commune = as_id(request.GET.get("commune"))
        if commune is not None:
            hamlets = hamlets.filter(commune_id=commune)
        return [(str(h.pk), str(h)) for h in hamlets.order_by("commune__name", "name")[:500]]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(hamlet_id=filter_id(self.value()))
        return queryset


class ActiveRoleFilter(admin.SimpleListFilter):
    """Members by their role in the team they are in now."""

    title = _("role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*MemberRole.choices, ("none", _("In no team"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        running = Membership.objects.filter(left_on__isnull=True)
        if value == "none":
            return queryset.exclude(id__in=running.values("member_id"))
        if value in MemberRole.values:
            return queryset.filter(id__in=running.filter(role=value).values("member_id"))
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    title = _("running")
    parameter_name = "running"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Running")), ("no", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(left_on__isnull=True)
        if self.value() == "no":
            return queryset.filter(left_on__isnull=False)
        return queryset


class MembershipInline(TabularInline):
    """A team's members (or a member's teams): role, dates and how long served. Read-only:
    joining, leaving and moving go through the membership page."""

    model = Membership
    extra = 0
    can_delete = False
    fields = ("member", "team", "role", "joined_on", "left_on", "served_for")
    readonly_fields = fields
    ordering = ("left_on", "-joined_on")
    verbose_name = _("membership")
    verbose_name_plural = _("members, roles and time served")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        other = "team" if isinstance(obj, Team) else "member"
        return tuple(f for f in self.fields if f != other)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Membership.objects.visible_to(request.user).select_related("member", "team")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("served"))
    def served_for(self, membership: Membership) -> str:
        return served(membership)


@admin.register(Team)
class TeamAdmin(ScopedAdmin):
    form = TeamForm
    list_display = (
        "name",
        "code",
        "kind",
        "commune",
        "hamlet",
        "status",
        "status_since",
        "member_count",
    )
    list_filter = (commune_filter("commune"), HamletFilter, "status", "kind")
    list_select_related = ("commune", "hamlet")
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    inlines = (MembershipInline,)
    actions = (download_team_badges,)
    fieldsets = (
        (None, {"fields": ("kind", "commune", "hamlet", "organisation_name", "code", "name")}),
        (_("Founding decision"), {"fields": ("decision_number", "decision_date")}),
        (_("Status"), {"fields": ("status", "status_since")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_members=Count("memberships", filter=Q(memberships__left_on__isnull=True))
            )
        )

    @admin.display(description=_("members"), ordering="active_members")
    def member_count(self, team: Team) -> int:
        return team.active_members  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Teams are dissolved, not deleted: their history stays.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(Member)
class MemberAdmin(ScopedAdmin):
    form = MemberForm
    list_display = (
        "full_name",
        "masked_phone",
        "masked_cccd",
        "commune",
        "organisation",
        "current_team",
    )
    list_filter = (commune_filter("commune"), "organisation", ActiveRoleFilter, "sex")
    list_select_related = ("commune",)
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    inlines = (MembershipInline,)
    readonly_fields = ("masked_cccd", "consent_given_at", "code", "created_at")
    actions = ("export_xlsx", download_member_badges)
    actions_list = ("roster_import", "roster_template")
    fieldsets = (
        (None, {"fields": ("full_name", "sex", "birth_year", "commune", "organisation")}),
        (
            _("Contact and identity"),
            {"fields": ("phone", "email", "masked_cccd", "cccd", "remove_cccd")},
        ),
        (_("Skills"), {"fields": ("skills",)}),
        (
            _("Consent"),
            {"fields": ("consent_given", "consent_purpose", "consent_given_at")},
        ),
        (_("Account"), {"fields": ("user", "code", "created_at")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return self.fieldsets
        # A new member has nothing stored to show or remove.
        return [
            (title, {"fields": tuple(f for f in opts["fields"] if f not in _STORED_ONLY)})
            for title, opts in self.fieldsets
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        running = Membership.objects.filter(left_on__isnull=True).select_related("team")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("memberships", queryset=running, to_attr="running"))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        phone = try_normalize_phone(search_term) if any(c.isdigit() for c in search_term) else None
        if phone is not None:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("phone"))
    def masked_phone(self, member: Member) -> str:
        return mask_phone(member.phone)

    @admin.display(description=_("CCCD"))
    def masked_cccd(self, member: Member) -> str:
        return f"••••••••{member.cccd_last4}" if member.cccd_last4 else "—"

    @admin.display(description=_("team now"))
    def current_team(self, member: Member) -> str:
        running = getattr(member, "running", None)
        if running is None:
            running = list(member.memberships.filter(left_on__isnull=True).select_related("team"))
        if not running:
            return "—"
        return f"{running[0].team} ({running[0].get_role_display()})"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Erasure of personal data is its own, recorded procedure.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    # --- Export ---------------------------------------------------------------------------

    @admin.action(description=_("Export the selected members to Excel"))
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
        filters = {
            key: ("…" if key == "q" else value)  # a search may be a name: not kept
            for key, value in request.GET.items()
        }
        data, name = export_roster(members=queryset, user=request.user, filters=filters)
        response = HttpResponse(data, content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    # --- Import ---------------------------------------------------------------------------

    @action(description=_("Download the Excel template"), url_path="template", icon="download")
    def roster_template(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(template_workbook(), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="cnsc-mau-danh-sach.xlsx"'
        return response

    @action(description=_("Import from Excel"), url_path="import", icon="upload")
    def roster_import(self, request: HttpRequest) -> HttpResponse:
        if not (
            self.has_add_permission(request)
            and self.has_change_permission(request)
            and request.user.has_perm("team.add_team")
        ):
            raise PermissionDenied
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Import teams and members"),
            "max_mb": settings.IMPORT_MAX_BYTES // 1_048_576,
            "template_url": reverse("admin:team_member_roster_template"),
        }
        if request.method == "POST" and request.POST.get("token"):
            return self._import_apply(request, context)
        form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
        context["form"] = form
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            commune = form.cleaned_data["commune"]
            try:
                plan = import_roster(
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
                token = _keep_upload(upload, request=request, commune_id=commune.pk)
                context.update(_preview_context(plan, token=token if plan.ok else ""))
                return TemplateResponse(request, "admin/team/import_preview.html", context)
        return TemplateResponse(request, "admin/team/import_form.html", context)

    def _import_apply(self, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
        kept = _open_kept_upload(request.POST["token"], request=request)
        commune = visible_communes(request.user).filter(pk=kept["commune"]).first()
        if commune is None:
            raise PermissionDenied
        path = _imports_dir() / kept["file"]
        with path.open("rb") as stream:
            try:
                plan = import_roster(
                    upload=stream,
                    size=path.stat().st_size,
                    commune=commune,
                    user=request.user,
                    apply=True,
                    file_name=kept["name"],
                )
            except ImportFileError as exc:
                messages.error(request, str(exc))
                path.unlink(missing_ok=True)
                return HttpResponseRedirect(reverse("admin:team_member_roster_import"))
        if not plan.ok:
            # The roster changed since the preview: show what is wrong now; nothing was written.
            context.update(_preview_context(plan, token=""))
            path.unlink(missing_ok=True)
            return TemplateResponse(request, "admin/team/import_preview.html", context)
        path.unlink(missing_ok=True)
        counts = plan.counts
        messages.success(
            request,
            gettext(
                "Imported: %(tc)d teams created, %(tu)d updated; %(mc)d members created, "
                "%(mu)d updated; %(unchanged)d rows unchanged."
            )
            % {
                "tc": counts["teams_create"],
                "tu": counts["teams_update"],
                "mc": counts["members_create"],
                "mu": counts["members_update"],
                "unchanged": counts["teams_unchanged"] + counts["members_unchanged"],
            },
        )
        return HttpResponseRedirect(reverse("admin:team_member_changelist"))


_STORED_ONLY = {"masked_cccd", "remove_cccd", "consent_given_at", "code", "created_at"}


def _imports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _keep_upload(upload: Any, *, request: HttpRequest, commune_id: int) -> str:
    """Store the uploaded file under a random name until it is applied (at most an hour), and
    return a signed token naming it. Nothing personal goes into URLs or tokens."""
    folder = _imports_dir()
    # Files of abandoned previews hold personal data: drop them once they cannot be applied.
    cutoff = time.time() - IMPORT_MAX_AGE
    for old in folder.glob("*.upload"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    name = f"{secrets.token_urlsafe(24)}.upload"
    with (folder / name).open("wb") as out:
        upload.seek(0)
        for chunk in upload.chunks():
            out.write(chunk)
    return signing.dumps(
        {"file": name, "commune": commune_id, "user": request.user.pk, "name": upload.name[:100]},
        salt=IMPORT_SALT,
    )


def _open_kept_upload(token: str, *, request: HttpRequest) -> dict[str, Any]:
    try:
        kept = signing.loads(token, salt=IMPORT_SALT, max_age=IMPORT_MAX_AGE)
    except signing.BadSignature:
        raise PermissionDenied from None
    if kept.get("user") != request.user.pk or not (_imports_dir() / kept["file"]).is_file():
        raise PermissionDenied
    return dict(kept)


def _preview_context(plan: Any, *, token: str) -> dict[str, Any]:
    counts = plan.counts
    return {
        "plan": plan,
        "token": token,
        "counts": [
            (gettext("Teams to create"), counts["teams_create"]),
            (gettext("Teams to update"), counts["teams_update"]),
            (gettext("Teams unchanged"), counts["teams_unchanged"]),
            (gettext("Members to create"), counts["members_create"]),
            (gettext("Members to update"), counts["members_update"]),
            (gettext("Members unchanged"), counts["members_unchanged"]),
            (gettext("Rows with errors"), len({(e.sheet, e.row) for e in plan.errors})),
        ],
        "errors": plan.errors[:1000],
        "more_errors": max(0, len(plan.errors) - 1000),
        "rows": plan.rows[:PREVIEW_ROWS],
        "commune": plan.commune,
    }


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    list_display = ("member", "team", "role", "joined_on", "left_on", "served_for")
    list_filter = (commune_filter("team__commune"), "role", ActiveFilter, "team__status")
    list_select_related = ("member", "team")
    search_fields = ("team__code",)
    normalized_search_fields = ("member__search_name", "team__search_name")
    autocomplete_fields = ("member", "team")
    date_hierarchy = "joined_on"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # A role or team change is a move: end this membership and start another.
        if obj.left_on is not None:
            return ("member", "team", "role", "joined_on", "left_on")
        return ("member", "team", "role")

    @admin.display(description=_("served"))
    def served_for(self, membership: Membership) -> str:
        return served(membership)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        # Through the services, so joining moves the member's roster to the team's commune.
        if not change:
            started = membership_start(
                member=obj.member, team=obj.team, role=obj.role, joined_on=obj.joined_on
            )
            obj.pk = started.pk
        elif "left_on" in form.changed_data and obj.left_on is not None:
            left_on = obj.left_on
            obj.left_on = None
            membership_end(membership=obj, left_on=left_on)
        else:
            super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Memberships are ended, not deleted: the history of who served is the record.
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(Target)
class TargetAdmin(ScopedAdmin):
    list_display = ("unit", "year", "members", "teams")
    list_filter = ("year",)
    list_select_related = ("unit",)
    autocomplete_fields = ("unit",)
    search_fields = ("unit__code",)
    normalized_search_fields = ("unit__search_name",)
