"""The roster as an .xlsx: personal data masked unless the user holds team.view_personal_data,
spreadsheet formulas neutralised, every export recorded in the audit log."""

from __future__ import annotations

import io
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.core.identity import mask_phone, national_phone
from cnsc.core.spreadsheets import safe_cell
from cnsc.core.types import Viewer
from cnsc.team.imports import (
    MEMBER_COLUMNS,
    MEMBER_SHEET,
    ORGANISATION_VALUES,
    ROLE_VALUES,
    SEX_VALUES,
    YES,
)
from cnsc.team.models import Member, Membership

PERSONAL_DATA_PERMISSION = "team.view_personal_data"
EXTRA_HEADERS = ("Tên tổ", "Thôn/Khu phố", "Xã/Phường")


def mask_email(email: str) -> str:
    if not email or "@" not in email:
        return ""
    name, domain = email.split("@", 1)
    return f"{name[:1]}***@{domain}"


def may_see_personal_data(user: Viewer) -> bool:
    # AnonymousUser.has_perm exists too; the stubs' AbstractBaseUser lacks it.
    return bool(user.is_authenticated and user.has_perm(PERSONAL_DATA_PERMISSION))  # type: ignore[attr-defined]


def roster_workbook(members: QuerySet[Member], *, unmasked: bool) -> tuple[bytes, int]:
    """The members (already scoped by the caller) as an .xlsx, and how many rows it holds.

    The columns are the import template's, so an unmasked export can be edited and imported
    back. The CCCD column holds only the last four digits: the full number is not stored.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(MEMBER_SHEET)
    header_font = Font(bold=True)
    headers = [c.header for c in MEMBER_COLUMNS] + list(EXTRA_HEADERS)
    ws.append([_bold(ws, h, header_font) for h in headers])
    active = Membership.objects.filter(left_on__isnull=True).select_related(
        "team", "team__hamlet", "team__commune"
    )
    count = 0
    batch: list[Member] = []
    queryset = members.select_related("commune").order_by("pk")

    def flush() -> None:
        current = {m.member_id: m for m in active.filter(member_id__in=[b.pk for b in batch])}
        for member in batch:
            ws.append([safe_cell(v) for v in _row(member, current.get(member.pk), unmasked)])
        batch.clear()

    for member in queryset.iterator(chunk_size=2000):
        batch.append(member)
        count += 1
        if len(batch) == 2000:
            flush()
    flush()
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), count


def _bold(ws: Any, text: str, font: Font) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=text)
    cell.font = font
    return cell


def _row(member: Member, membership: Membership | None, unmasked: bool) -> list[Any]:
    phone = national_phone(member.phone) if unmasked else mask_phone(member.phone)
    cccd = f"********{member.cccd_last4}" if member.cccd_last4 else ""
    team = membership.team if membership else None
    return [
        member.full_name,
        SEX_VALUES.get(member.sex, ""),  # type: ignore[call-overload]
        member.birth_year,
        phone,
        member.email if unmasked else mask_email(member.email),
        cccd,
        ORGANISATION_VALUES.get(member.organisation, ""),  # type: ignore[call-overload]
        member.skills,
        YES if member.consent_given_at else "",
        team.code if team else "",
        ROLE_VALUES.get(membership.role, "") if membership else "",  # type: ignore[call-overload]
        membership.joined_on.strftime("%d/%m/%Y") if membership else "",
        team.name if team else "",
        team.hamlet.name if team and team.hamlet else "",
        team.commune.name if team else member.commune.name,
    ]


def export_roster(
    *, members: QuerySet[Member], user: Viewer, filters: dict[str, Any]
) -> tuple[bytes, str]:
    """The export file and its name; recorded in the audit log with who, the filter, the row
    count and whether personal data was unmasked."""
    unmasked = may_see_personal_data(user)
    data, count = roster_workbook(members, unmasked=unmasked)
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        target="team.member",
        detail={"filters": filters, "format": "xlsx"},
        rows=count,
        unmasked=unmasked,
    )
    name = f"cnsc-thanh-vien-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    return data, name
