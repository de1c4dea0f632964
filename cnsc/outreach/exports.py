"""Households and residents as an .xlsx: personal data masked unless the user holds
outreach.view_personal_data, spreadsheet formulas neutralised, every export recorded in the
audit log (who, which filter, how many rows, whether unmasked; never the data).

The columns are the import template's, so an export can be corrected and imported back: the
household code keeps each household, masked values ("0912***678", "********1234") are read as
"keep what is stored". The CCCD column holds only the last four digits: the number is not
stored. Erased residents are left out: nothing about them is personal any more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.core.identity import mask_phone, national_phone
from cnsc.core.spreadsheets import bold_row, safe_cell
from cnsc.core.types import Viewer

from .imports import COLUMNS, NO, RELATION_VALUES, SEX_VALUES, SHEET, STATE_VALUES, YES
from .models import Resident, ServiceState

PERSONAL_DATA_PERMISSION = "outreach.view_personal_data"
EXTRA_HEADERS = ("Xã/Phường", "Mã nhân khẩu")
# Larger exports are refused: narrow the list by commune or hamlet. An .xlsx of this size is
# already about 12 MB, and the file is built in memory before it is sent.
MAX_ROWS = 200_000
CHUNK = 2000


class ExportTooLargeError(Exception):
    """The selection holds more than MAX_ROWS residents; the message says what to do."""


def may_see_personal_data(user: Viewer) -> bool:
    # AnonymousUser.has_perm exists too; the stubs' AbstractBaseUser lacks it.
    return bool(user.is_authenticated and user.has_perm(PERSONAL_DATA_PERMISSION))  # type: ignore[attr-defined]


def _residents(residents: QuerySet[Resident]) -> Iterator[tuple[Resident, dict[str, str]]]:
    """The residents in household order, each with their service states, a chunk at a time."""
    queryset = (
        residents.filter(erased_at__isnull=True)
        .select_related("household", "household__hamlet", "household__team", "household__commune")
        .order_by("household__commune_id", "household__code", "id")
    )
    batch: list[Resident] = []

    def flush() -> Iterator[tuple[Resident, dict[str, str]]]:
        states: dict[int, dict[str, str]] = {}
        for resident_id, service, state in ServiceState.objects.filter(
            resident_id__in=[r.pk for r in batch]
        ).values_list("resident_id", "service", "state"):
            states.setdefault(resident_id, {})[service] = state
        for resident in batch:
            yield resident, states.get(resident.pk, {})
        batch.clear()

    for resident in queryset.iterator(chunk_size=CHUNK):
        batch.append(resident)
        if len(batch) == CHUNK:
            yield from flush()
    yield from flush()


def _row(resident: Resident, states: dict[str, str], *, unmasked: bool) -> list[Any]:
    household = resident.household
    show = national_phone if unmasked else mask_phone
    values: dict[str, Any] = {
        "household_code": household.code,
        "hamlet": household.hamlet.name,
        "house_number": household.house_number,
        "street": household.street,
        "household_phone": show(household.phone),
        "team_code": household.team.code if household.team else "",
        "full_name": resident.full_name,
        "relation": RELATION_VALUES.get(resident.relation_to_head, ""),  # type: ignore[call-overload]
        "sex": SEX_VALUES.get(resident.sex, ""),  # type: ignore[call-overload]
        "birth_year": resident.birth_year,
        "phone": show(resident.phone),
        "cccd": f"********{resident.cccd_last4}" if resident.cccd_last4 else "",
        "smartphone": ""
        if resident.owns_smartphone is None
        else YES
        if resident.owns_smartphone
        else NO,
        "welfare": YES if resident.welfare_beneficiary else NO,
        "states_on": "",
    }
    for service, state in states.items():
        values[f"state_{service}"] = STATE_VALUES[service][state]
    row = [values.get(c.key, "") for c in COLUMNS]
    row += [household.commune.name, resident.code]
    return [safe_cell(v) for v in row]


def households_workbook(residents: QuerySet[Resident], *, unmasked: bool) -> tuple[bytes, int]:
    """The residents (already scoped by the caller) as an .xlsx, and how many rows it holds."""
    import io

    count = residents.filter(erased_at__isnull=True).count()
    if count > MAX_ROWS:
        raise ExportTooLargeError(
            _(
                "%(count)s residents are selected; an export holds at most %(max)s. Choose a "
                "commune or a hamlet."
            )
            % {"count": f"{count:,}", "max": f"{MAX_ROWS:,}"}
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET)
    ws.append(bold_row(ws, [c.header for c in COLUMNS] + list(EXTRA_HEADERS)))
    written = 0
    for resident, states in _residents(residents):
        ws.append(_row(resident, states, unmasked=unmasked))
        written += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), written


def export_households(
    *, residents: QuerySet[Resident], user: Viewer, filters: dict[str, Any]
) -> tuple[bytes, str]:
    """The export file and its name; recorded in the audit log with who, the filter, the row
    count and whether personal data was unmasked. ExportTooLargeError beyond MAX_ROWS."""
    unmasked = may_see_personal_data(user)
    data, count = households_workbook(residents, unmasked=unmasked)
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        target="outreach.resident",
        detail={"filters": filters, "format": "xlsx"},
        rows=count,
        unmasked=unmasked,
    )
    name = f"cnsc-ho-gia-dinh-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    return data, name
