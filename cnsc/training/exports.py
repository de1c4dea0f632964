"""Attendance as an .xlsx: phone numbers masked, spreadsheet formulas neutralised, every export
recorded in the audit log (who, which sessions, how many rows)."""

from __future__ import annotations

import io
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.core.identity import mask_phone
from cnsc.core.models import format_code
from cnsc.core.spreadsheets import safe_cell
from cnsc.core.types import Viewer
from cnsc.training.models import Attendance, TrainingSession


def _headers() -> list[str]:
    return [
        _("Session"),
        _("Course"),
        _("Commune"),
        _("Date"),
        _("Place"),
        _("Attendee"),
        _("Full name"),
        _("Year of birth"),
        _("Phone"),
        _("Present"),
        _("Marked by"),
        _("Score"),
        _("Passed"),
        _("Certificate"),
    ]


def _row(attendance: Attendance) -> list[Any]:
    session = attendance.session
    person = attendance.member or attendance.resident
    phone = person.phone if person is not None else ""
    certificate = attendance.certificate
    if certificate is None:
        certificate_cell = ""
    elif certificate.revoked_at is not None:
        certificate_cell = _("%(code)s (revoked)") % {"code": format_code(certificate.code)}
    else:
        certificate_cell = format_code(certificate.code)
    yes, no = _("yes"), _("no")
    return [
        session.code,
        session.course.title,
        session.commune.name,
        date_format(timezone.localtime(session.starts_at), "d/m/Y"),
        session.place,
        _("Member") if attendance.member_id else _("Resident"),
        attendance.person_name,
        person.birth_year if person is not None else "",
        mask_phone(phone),
        yes if attendance.attended else no,
        attendance.get_method_display(),
        attendance.score if attendance.score is not None else "",
        yes if attendance.passed else no,
        certificate_cell,
    ]


def attendance_workbook(attendances: QuerySet[Attendance]) -> tuple[bytes, int]:
    """The attendances (already scoped by the caller) as an .xlsx, and how many rows it holds."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Attendance"))
    header = []
    for text in _headers():
        cell = WriteOnlyCell(ws, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    count = 0
    rows = attendances.select_related(
        "session__course", "session__commune", "member", "resident", "certificate"
    ).order_by("session__starts_at", "session_id", "pk")
    for attendance in rows.iterator(chunk_size=2000):
        ws.append([safe_cell(value) for value in _row(attendance)])
        count += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), count


def export_attendance(*, sessions: QuerySet[TrainingSession], user: Viewer) -> tuple[bytes, str]:
    """The file and its name for the sessions given (scoped by the caller); the export is
    recorded in the audit log. Phones are always masked: an attendance list needs none."""
    codes = list(sessions.order_by("starts_at").values_list("code", flat=True)[:200])
    data, count = attendance_workbook(Attendance.objects.filter(session__in=sessions))
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        target="training.attendance",
        detail={"sessions": codes, "format": "xlsx"},
        rows=count,
        unmasked=False,
    )
    return data, f"cnsc-diem-danh-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
