"""The training back office: handbooks, courses, sessions with their attendance page and QR code,
attendance and certificates, resident attendees.

Rows come from ``visible_to`` (ScopedAdmin); handbooks and courses of the province are read by
its communes but changed only by province staff (``editable_by``). Writes go through the
services; pages that write answer 403 to read-only users and 404 for another commune's rows.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import StackedInline

from cnsc.core.admin import ScopedAdmin
from cnsc.core.identity import mask_phone
from cnsc.core.models import format_code
from cnsc.core.pdf import pdf_response, qr_image
from cnsc.core.text import search_key
from cnsc.geo.admin import commune_filter
from cnsc.geo.models import AdminUnit, Hierarchy, Level
from cnsc.team.models import Member
from cnsc.training.certificates import (
    certificate_issue,
    certificate_revoke,
    certificates_issue_for_session,
    certificates_pdf,
    name_order,
    session_certificates,
)
from cnsc.training.documents import render_handbook
from cnsc.training.exports import export_attendance
from cnsc.training.forms import (
    CourseAdminForm,
    MemberChoiceForm,
    NewVersionForm,
    ReasonForm,
    ResidentAttendeeForm,
    ResidentForm,
)
from cnsc.training.models import (
    Attendance,
    Course,
    CourseTopic,
    Handbook,
    HandbookBlock,
    HandbookSource,
    HandbookStatus,
    PassRule,
    ResidentAttendee,
    Topic,
    TrainingSession,
    editable_units,
)
from cnsc.training.services import (
    attendance_add,
    attendance_add_resident,
    attendance_code,
    attendance_record_many,
    attendance_url,
    check_in_window,
    course_save,
    handbook_new_version,
    handbook_publish,
    handbook_retire,
    handbook_save,
    session_save,
)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _link(url: str, text: str) -> str:
    return format_html('<a class="text-primary-600 underline" href="{}">{}</a>', url, text)


def _report(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _person(attendance: Attendance) -> Member | ResidentAttendee:
    person = attendance.member or attendance.resident
    if person is None:
        raise ValueError("an attendance is of a member or a resident")
    return person


def _xlsx(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class _UnitEditable:
    """Handbooks and courses: a commune reads its province's but changes only its own."""

    def _editable(self, request: HttpRequest, obj: Any) -> bool:
        return bool(type(obj).objects.editable_by(request.user).filter(pk=obj.pk).exists())

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "unit":
            kwargs["queryset"] = editable_units(request.user).order_by("level", "name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)  # type: ignore[misc]
        units = list(editable_units(request.user)[:2])
        if "unit" not in initial and len(units) == 1:
            initial["unit"] = units[0].pk  # one commune or one province: nothing to choose
        return initial


# --- Handbooks ------------------------------------------------------------------------------


class HandbookBlockInline(StackedInline):
    model = HandbookBlock
    extra = 0
    fields = ("position", "kind", "text", "image")
    ordering = ("position",)
    verbose_name_plural = gettext_lazy("content, in reading order")

    def _open(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or (
            obj.status == HandbookStatus.DRAFT
            and Handbook.objects.editable_by(request.user).filter(pk=obj.pk).exists()
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._open(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._open(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._open(request, obj) and super().has_delete_permission(request, obj)


@admin.register(Handbook)
class HandbookAdmin(_UnitEditable, ScopedAdmin):
    list_display = ("title", "topic", "audience", "unit", "version", "status", "published_at")
    list_filter = ("status", "topic", "audience", "language")
    list_select_related = ("unit",)
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    fields = (
        "unit",
        "title",
        ("topic", "audience", "language"),
        "source",
        "pdf",
        "change_note",
        ("version", "status"),
        ("published_at", "retired_at"),
        "pages",
        "documents",
    )
    readonly_fields = ("version", "status", "published_at", "retired_at", "pages", "documents")
    inlines = (HandbookBlockInline,)
    actions = ("publish", "retire")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        if obj is not None and obj.source == HandbookSource.WRITTEN:
            return (HandbookBlockInline,)
        return ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (
            obj.status != HandbookStatus.DRAFT or not self._editable(request, obj)
        ):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Handbook, form: Any, change: bool) -> None:
        handbook_save(handbook=obj)

    @admin.display(description=gettext_lazy("documents"))
    def documents(self, obj: Handbook) -> str:
        if obj.pk is None:
            return ""
        links = []
        if obj.source == HandbookSource.WRITTEN and obj.status == HandbookStatus.DRAFT:
            links.append(
                _link(
                    reverse("admin:training_handbook_preview", args=[obj.pk]), _("Preview the PDF")
                )
            )
        if obj.pdf:
            links.append(_link(reverse("admin:training_handbook_pdf", args=[obj.pk]), _("The PDF")))
        if (
            obj.status != HandbookStatus.DRAFT
            and not Handbook.objects.filter(replaces=obj).exists()
        ):
            links.append(
                _link(
                    reverse("admin:training_handbook_new_version", args=[obj.pk]),
                    _("Start a new version"),
                )
            )
        return format_html_join(" · ", "{}", ((link,) for link in links))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview.pdf", view(self.preview_view), name="training_handbook_preview"),
            path("<int:pk>/file.pdf", view(self.pdf_view), name="training_handbook_pdf"),
            path(
                "<int:pk>/new-version/",
                view(self.new_version_view),
                name="training_handbook_new_version",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.view_handbook")
        handbook = self.get_object(request, str(pk))
        try:
            rendered = render_handbook(handbook)
        except ValidationError as error:
            _report(request, error)
            return redirect("admin:training_handbook_change", pk)
        return pdf_response(rendered.content, filename=handbook.title, inline=True)

    def pdf_view(self, request: HttpRequest, pk: int) -> FileResponse:
        _require(request, "training.view_handbook")
        handbook = self.get_object(request, str(pk))
        if not handbook.pdf:
            raise Http404
        return FileResponse(
            handbook.pdf.open("rb"),
            content_type="application/pdf",
            filename=f"{search_key(handbook.title).replace(' ', '-')[:80] or 'cam-nang'}.pdf",
        )

    def new_version_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.add_handbook")
        handbook = self.get_object(request, str(pk))
        if not self._editable(request, handbook):
            raise PermissionDenied
        form = NewVersionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                draft = handbook_new_version(
                    handbook=handbook, change_note=form.cleaned_data["change_note"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Version %(version)d is a draft: change it, then publish it.")
                    % {"version": draft.version},
                )
                return redirect("admin:training_handbook_change", draft.pk)
        return TemplateResponse(
            request,
            "admin/training/small_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("New version of “%(title)s”") % {"title": handbook.title},
                "form": form,
                "submit": _("Start the new version"),
                "back": reverse("admin:training_handbook_change", args=[handbook.pk]),
            },
            status=400 if request.method == "POST" else 200,
        )

    def _transition(
        self, request: HttpRequest, queryset: QuerySet[Handbook], service: Any, done: str
    ) -> None:
        editable = queryset.editable_by(request.user)  # type: ignore[attr-defined]
        for handbook in queryset.exclude(pk__in=editable.values("pk")):
            messages.warning(
                request,
                _("“%(title)s” belongs to the province: only province staff can change it.")
                % {"title": handbook.title},
            )
        count = 0
        for handbook in editable:
            try:
                service(handbook=handbook)
            except ValidationError as error:
                _report(request, error)
            else:
                count += 1
        if count:
            messages.success(request, done % {"count": count})

    @admin.action(description=gettext_lazy("Publish"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Handbook]) -> None:
        self._transition(request, queryset, handbook_publish, _("Handbooks published: %(count)d."))

    @admin.action(description=gettext_lazy("Retire"), permissions=["change"])
    def retire(self, request: HttpRequest, queryset: QuerySet[Handbook]) -> None:
        self._transition(request, queryset, handbook_retire, _("Handbooks retired: %(count)d."))


# --- Courses --------------------------------------------------------------------------------


@admin.register(Course)
class CourseAdmin(_UnitEditable, ScopedAdmin):
    form = CourseAdminForm
    list_display = ("title", "unit", "topic_list", "hours", "pass_rule", "pass_score")
    list_filter = ("pass_rule",)
    list_select_related = ("unit",)
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Course]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("topics", CourseTopic.objects.all()))
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not self._editable(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only: the checkboxes give way to the list of topic names.
            fields = ["topic_list" if name == "topics" else name for name in fields]
        return fields

    def save_model(self, request: HttpRequest, obj: Course, form: Any, change: bool) -> None:
        course_save(course=obj, topics=form.cleaned_data["topics"])

    @admin.display(description=gettext_lazy("topics"))
    def topic_list(self, obj: Course) -> str:
        return ", ".join(str(Topic(value).label) for value in obj.topic_values)


# --- Sessions -------------------------------------------------------------------------------


@admin.register(TrainingSession)
class TrainingSessionAdmin(ScopedAdmin):
    list_display = ("course", "commune", "starts_at", "place", "capacity", "listed", "present")
    list_filter = (commune_filter(),)
    list_select_related = ("course", "commune")
    date_hierarchy = "starts_at"
    search_fields = ("code",)
    fields = (
        "course",
        "commune",
        "hamlet",
        "place",
        ("starts_at", "ends_at"),
        "capacity",
        "trainers",
        "tools",
    )
    readonly_fields = ("tools",)
    filter_horizontal = ("trainers",)
    actions = ("export_xlsx", "issue_certificates")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainingSession]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                listed_count=Count("attendances"),
                present_count=Count("attendances", filter=Q(attendances__attended=True)),
            )
        )

    @admin.display(description=gettext_lazy("listed"))
    def listed(self, obj: Any) -> int:
        return int(getattr(obj, "listed_count", 0))

    @admin.display(description=gettext_lazy("present"))
    def present(self, obj: Any) -> int:
        return int(getattr(obj, "present_count", 0))

    def save_model(
        self, request: HttpRequest, obj: TrainingSession, form: Any, change: bool
    ) -> None:
        session_save(session=obj)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        communes = list(
            AdminUnit.objects.visible_to(request.user).filter(
                hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE
            )[:2]
        )
        if "commune" not in initial and len(communes) == 1:
            initial["commune"] = communes[0].pk
        return initial

    @admin.display(description=gettext_lazy("attendance and certificates"))
    def tools(self, obj: TrainingSession) -> str:
        if obj.pk is None:
            return _("Save the session first.")
        links = [
            (
                reverse("admin:training_session_attendance", args=[obj.pk]),
                _("Attendance and results"),
            ),
            (reverse("admin:training_session_code", args=[obj.pk]), _("QR code for attendance")),
            (
                reverse("admin:training_session_certificates", args=[obj.pk]),
                _("Certificates (PDF)"),
            ),
            (reverse("admin:training_session_export", args=[obj.pk]), _("Attendance (.xlsx)")),
        ]
        return format_html_join(
            " · ", '<a class="text-primary-600 underline" href="{}">{}</a>', links
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/attendance/",
                view(self.attendance_view),
                name="training_session_attendance",
            ),
            path("<int:pk>/attendance-code/", view(self.code_view), name="training_session_code"),
            path(
                "<int:pk>/certificates/issue/",
                view(self.issue_view),
                name="training_session_issue",
            ),
            path(
                "<int:pk>/certificates.pdf",
                view(self.certificates_view),
                name="training_session_certificates",
            ),
            path(
                "<int:pk>/attendance.xlsx", view(self.export_view), name="training_session_export"
            ),
            *super().get_urls(),
        ]

    def _session(self, request: HttpRequest, pk: int) -> TrainingSession:
        session: TrainingSession = self.get_object(request, str(pk))
        return session

    # The attendance page: the list with present / score per person, and two small forms to
    # add someone. GET needs the right to view attendance, every POST the right to change it.
    def attendance_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.view_attendance")
        session = self._session(request, pk)
        listed = Attendance.objects.filter(session=session)
        members = Member.objects.visible_to(request.user).exclude(
            pk__in=listed.filter(member__isnull=False).values("member_id")
        )
        member_form = MemberChoiceForm(members=members, prefix="m")
        resident_form = ResidentForm(prefix="r")
        row_errors: dict[str, list[str]] = {}
        status = 200
        if request.method == "POST":
            _require(request, "training.change_attendance")
            action = request.POST.get("action")
            try:
                if action == "results":
                    changed = attendance_record_many(
                        session=session, results=self._results(request, listed)
                    )
                    messages.success(
                        request, _("Results saved: %(count)d changed.") % {"count": changed}
                    )
                    return redirect(request.path)
                if action == "member":
                    _require(request, "training.add_attendance")
                    member_form = MemberChoiceForm(request.POST, members=members, prefix="m")
                    if member_form.is_valid():
                        attendance_add(
                            session=session,
                            member=member_form.cleaned_data["member"],
                            attended=member_form.cleaned_data["attended"],
                        )
                        return redirect(request.path)
                elif action == "resident":
                    _require(request, "training.add_attendance")
                    resident_form = ResidentForm(request.POST, prefix="r")
                    if resident_form.is_valid():
                        data = resident_form.cleaned_data
                        attendance_add_resident(
                            session=session,
                            full_name=data["full_name"],
                            birth_year=data["birth_year"],
                            phone=data["phone"],
                            consent_given=data["consent"],
                            attended=data["attended"],
                        )
                        return redirect(request.path)
            except ValidationError as error:
                if action == "results" and hasattr(error, "error_dict"):
                    row_errors = {key: list(msgs) for key, msgs in error.message_dict.items()}
                else:
                    target = resident_form if action == "resident" else member_form
                    if hasattr(error, "error_dict"):
                        for field, msgs in error.message_dict.items():
                            target.add_error(field if field in target.fields else None, msgs)
                    else:
                        target.add_error(None, error.messages)
            status = 400
        rows = listed.select_related("member", "resident", "certificate").order_by("pk")
        return TemplateResponse(
            request,
            "admin/training/attendance.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Attendance and results"),
                "session": session,
                "rows": [
                    {
                        "attendance": row,
                        "phone": mask_phone(_person(row).phone),
                        "birth_year": _person(row).birth_year,
                        "errors": row_errors.get(str(row.pk), []),
                    }
                    for row in rows
                ],
                "has_test": session.course.pass_rule == PassRule.SCORE,
                "can_change": request.user.has_perm("training.change_attendance"),
                "member_form": member_form,
                "resident_form": resident_form,
                "places_left": max(0, session.capacity - len(rows)),
            },
            status=status,
        )

    def _results(
        self, request: HttpRequest, listed: QuerySet[Attendance]
    ) -> dict[int, tuple[bool, int | None]]:
        """What the trainer changed on the page. Each row carries what it showed ("shown"), and
        only rows whose boxes differ from it are recorded: someone who scanned the QR code
        while the page was open is not marked absent by a page loaded before they came."""
        ids = set(listed.values_list("pk", flat=True))
        results: dict[int, tuple[bool, int | None]] = {}
        errors: dict[str, list[str]] = {}
        for shown in request.POST.getlist("shown"):
            pk_text, _sep, before = shown.partition(":")
            if not pk_text.isdigit() or int(pk_text) not in ids:
                continue
            pk = int(pk_text)
            present = request.POST.get(f"present-{pk}") == "on"
            raw = request.POST.get(f"score-{pk}", "").strip()
            score: int | None = None
            if raw:
                try:
                    score = int(raw)
                except ValueError:
                    errors[str(pk)] = [_("A score is a whole number from 0 to 100.")]
                    continue
            if before == f"{int(present)}:{'' if score is None else score}":
                continue
            results[pk] = (present, score)
        if errors:
            raise ValidationError(errors)
        return results

    def code_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The QR code to show on a screen at the session. It changes every few minutes (the
        page reloads itself), so a photo of it sent away soon stops working."""
        _require(request, "training.change_attendance")
        session = self._session(request, pk)
        opens, closes = check_in_window(session)
        now = timezone.now()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("QR code for attendance"),
            "session": session,
            "opens": opens,
            "closes": closes,
            "open": opens <= now <= closes,
        }
        if context["open"]:
            url = attendance_url(attendance_code(session=session))
            image = qr_image(url, box_size=12)
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            context["qr"] = base64.b64encode(buffer.getvalue()).decode("ascii")
            context["url"] = url
            # A new code well before the one on screen expires, so a scan never lands on a dead one.
            context["refresh_seconds"] = max(30, min(240, settings.ATTENDANCE_CODE_MINUTES * 20))
        return TemplateResponse(request, "admin/training/attendance_code.html", context)

    def issue_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        if request.method != "POST":
            raise PermissionDenied
        _require(request, "training.change_attendance")
        session = self._session(request, pk)
        self._issue(request, session)
        return redirect("admin:training_session_attendance", session.pk)

    def _issue(self, request: HttpRequest, session: TrainingSession) -> None:
        try:
            issued = certificates_issue_for_session(session=session)
        except ValidationError as error:
            _report(request, error)
            return
        messages.success(
            request,
            _("%(session)s: %(count)d certificates issued.")
            % {"session": session, "count": len(issued)},
        )

    def certificates_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.view_attendance")
        session = self._session(request, pk)
        rows = session_certificates(session)
        if not rows:
            messages.warning(request, _("This session has no valid certificate to print yet."))
            return redirect("admin:training_session_attendance", session.pk)
        title = _("Certificates — %(course)s — %(date)s") % {
            "course": session.course.title,
            "date": timezone.localtime(session.starts_at).strftime("%d/%m/%Y"),
        }
        return pdf_response(
            certificates_pdf(rows, title=title), filename=f"chung nhan {session.course.title}"
        )

    def export_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.view_attendance")
        session = self._session(request, pk)
        data, name = export_attendance(
            sessions=TrainingSession.objects.filter(pk=session.pk), user=request.user
        )
        return _xlsx(data, name)

    @admin.action(description=gettext_lazy("Export attendance (.xlsx)"), permissions=["view"])
    def export_xlsx(
        self, request: HttpRequest, queryset: QuerySet[TrainingSession]
    ) -> HttpResponse | None:
        if not request.user.has_perm("training.view_attendance"):
            raise PermissionDenied
        data, name = export_attendance(sessions=queryset, user=request.user)
        return _xlsx(data, name)

    @admin.action(
        description=gettext_lazy("Issue certificates to everyone who passed"),
        permissions=["change"],
    )
    def issue_certificates(self, request: HttpRequest, queryset: QuerySet[TrainingSession]) -> None:
        _require(request, "training.change_attendance")
        for session in queryset.select_related("course"):
            self._issue(request, session)


# --- Attendance and certificates -------------------------------------------------------------


@admin.register(Attendance)
class AttendanceAdmin(ScopedAdmin):
    list_display = ("person", "kind", "session", "attended", "score", "passed", "certificate_state")
    list_filter = ("attended", "passed", "method", commune_filter("session__commune"))
    list_select_related = ("member", "resident", "session__course", "certificate")
    normalized_search_fields = ("member__search_name", "resident__search_name")
    fields = (
        "session",
        "person",
        "kind",
        "attended",
        "method",
        "marked_at",
        "score",
        "passed",
        "certificate_state",
        "tools",
    )
    readonly_fields = fields
    actions = ("issue", "download")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # people are put on a list from the session's attendance page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Results change on the session's page; here only actions (issue, revoke).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.certificate_id is not None:
            return False  # the certificate keeps pointing at this row
        return super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("person"))
    def person(self, obj: Attendance) -> str:
        return obj.person_name

    @admin.display(description=gettext_lazy("attendee"))
    def kind(self, obj: Attendance) -> str:
        return _("Member") if obj.member_id else _("Resident")

    @admin.display(description=gettext_lazy("certificate"))
    def certificate_state(self, obj: Attendance) -> str:
        certificate = obj.certificate
        if certificate is None:
            return "—"
        if certificate.revoked_at is not None:
            return _("%(code)s (revoked)") % {"code": format_code(certificate.code)}
        return format_code(certificate.code)

    @admin.display(description=gettext_lazy("certificate"))
    def tools(self, obj: Attendance) -> str:
        links = [
            (
                reverse("admin:training_session_attendance", args=[obj.session_id]),
                _("Attendance and results"),
            )
        ]
        if obj.has_valid_certificate:
            links.append(
                (
                    reverse("admin:training_attendance_certificate", args=[obj.pk]),
                    _("Certificate (PDF)"),
                )
            )
            links.append(
                (
                    reverse("admin:training_attendance_revoke", args=[obj.pk]),
                    _("Revoke the certificate"),
                )
            )
        return format_html_join(
            " · ", '<a class="text-primary-600 underline" href="{}">{}</a>', links
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/certificate.pdf",
                view(self.certificate_view),
                name="training_attendance_certificate",
            ),
            path("<int:pk>/revoke/", view(self.revoke_view), name="training_attendance_revoke"),
            *super().get_urls(),
        ]

    def certificate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.view_attendance")
        attendance: Attendance = self.get_object(request, str(pk))
        if not attendance.has_valid_certificate:
            raise Http404
        title = _("Certificate — %(name)s") % {"name": attendance.person_name}
        return pdf_response(
            certificates_pdf([attendance], title=title),
            filename=f"chung nhan {attendance.person_name}",
        )

    def revoke_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, "training.change_attendance")
        attendance: Attendance = self.get_object(request, str(pk))
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                certificate_revoke(attendance=attendance, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("The certificate of %(name)s is revoked.") % {"name": attendance.person_name},
                )
                return redirect("admin:training_attendance_change", attendance.pk)
        return TemplateResponse(
            request,
            "admin/training/small_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Revoke the certificate of %(name)s") % {"name": attendance.person_name},
                "form": form,
                "submit": _("Revoke"),
                "back": reverse("admin:training_attendance_change", args=[attendance.pk]),
            },
            status=400 if request.method == "POST" else 200,
        )

    @admin.action(description=gettext_lazy("Issue certificates"), permissions=["change"])
    def issue(self, request: HttpRequest, queryset: QuerySet[Attendance]) -> None:
        count = 0
        for attendance in queryset.select_related("member", "resident", "session__course"):
            try:
                certificate_issue(attendance=attendance)
            except ValidationError as error:
                _report(request, error)
            else:
                count += 1
        if count:
            messages.success(request, _("Certificates issued: %(count)d.") % {"count": count})

    @admin.action(description=gettext_lazy("Download certificates (PDF)"), permissions=["view"])
    def download(self, request: HttpRequest, queryset: QuerySet[Attendance]) -> HttpResponse | None:
        rows = sorted(
            queryset.filter(
                certificate__isnull=False, certificate__revoked_at__isnull=True
            ).select_related(
                "certificate", "member", "resident", "session__course", "session__commune__province"
            ),
            key=lambda row: (row.session_id, name_order(row.person_name)),
        )
        if not rows:
            messages.warning(request, _("None of the chosen people holds a valid certificate."))
            return None
        return pdf_response(certificates_pdf(rows, title=_("Certificates")), filename="chung nhan")


@admin.register(ResidentAttendee)
class ResidentAttendeeAdmin(ScopedAdmin):
    form = ResidentAttendeeForm
    list_display = ("full_name", "birth_year", "masked_phone", "commune", "created_at")
    list_filter = (commune_filter(),)
    list_select_related = ("commune",)
    normalized_search_fields = ("search_name",)
    fields = (
        "commune",
        "full_name",
        "birth_year",
        "phone",
        "consent_purpose",
        "consent_given_at",
        "created_at",
    )
    readonly_fields = ("commune", "consent_purpose", "consent_given_at", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # residents are listed from a session's page, with their consent

    @admin.display(description=gettext_lazy("phone"))
    def masked_phone(self, obj: ResidentAttendee) -> str:
        return mask_phone(obj.phone)
