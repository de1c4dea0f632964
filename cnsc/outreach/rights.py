"""A resident's rights over their personal data (Law 91/2025/QH15): to know what is held about
them, to have it corrected, and to have it erased. Each use is recorded in the audit log.

- Access: everything held about one resident, as a PDF in Vietnamese and as JSON. It holds
  their own data only: not the names of the household's other residents, nor of the members and
  officials who visited them or changed their record (those are other people's personal data;
  the visits and changes themselves are listed, with their dates).
- Correction: through the resident's normal change form (cnsc.outreach.admin); every saved
  change is kept in the change history with who made it, and ``resident_correction_record``
  puts it in the audit log.
- Erasure: the person is removed, the anonymous counts stay. The resident row, its household
  link, its service states and their history stay, so every figure already reported (residents
  of a hamlet, residents aged 14 and over with a level-2 VNeID, state changes in a month) comes
  out the same afterwards; what identifies the person goes, from the row, from its change
  history and from the free text that may name them.

What is kept of an erased resident, and why: sex and year of birth. The indicators count
residents by age (14 and over for VNeID, 15 and over for payment accounts), so a coarser year
would move people across those lines and change past figures. Without name, phone, CCCD and
relation to the head, a year of birth and a sex within a household are statistical data, the
minimum the counts need. Relation to the head is reset ("not related") because "head of
household" together with the address points at one person.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.core.identity import national_phone
from cnsc.core.pdf import FONT, FONT_BOLD, INK, MUTED, paragraph, paragraph_style
from cnsc.core.text import search_key
from cnsc.core.types import Viewer

from .models import (
    FieldReport,
    Household,
    Relation,
    Resident,
    ResidentMove,
    ServiceEvent,
    ServiceState,
    Visit,
    VisitOutcome,
)

# What an erased resident's name becomes: not a person, and the same for everyone.
ERASED_NAME = "(đã xoá)"
# What replaces the erased resident's name or phone in free text written about a visit.
REDACTED = "[đã xoá]"


# --- Access ---------------------------------------------------------------------------------


def _moment(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="minutes") if value else None


def resident_data(resident: Resident) -> dict[str, Any]:
    """Everything held about ``resident``, as plain values (the JSON export is this)."""
    household = resident.household
    history = resident.history.order_by("history_date")
    outcomes = (
        VisitOutcome.objects.filter(resident=resident)
        .select_related("visit")
        .order_by("visit__happened_at")
    )
    moves = ResidentMove.objects.filter(resident=resident).select_related(
        "from_household", "to_household"
    )
    return {
        "resident": {
            "code": resident.code,
            "full_name": resident.full_name,
            "sex": resident.get_sex_display(),
            "birth_year": resident.birth_year,
            "relation_to_head": resident.get_relation_to_head_display(),
            "phone": national_phone(resident.phone),
            "cccd": f"********{resident.cccd_last4}" if resident.cccd_last4 else "",
            "owns_smartphone": resident.owns_smartphone,
            "welfare_beneficiary": resident.welfare_beneficiary,
            "created_at": _moment(resident.created_at),
            "updated_at": _moment(resident.updated_at),
            "erased_at": _moment(resident.erased_at),
        },
        "household": {
            "code": household.code,
            "address": " ".join(p for p in (household.house_number, household.street) if p),
            "hamlet": household.hamlet.name,
            "commune": household.commune.name,
            "phone": national_phone(household.phone),
            "team": household.team.name if household.team else "",
        },
        "services": [
            {
                "service": s.get_service_display(),
                "state": s.get_state_display(),
                "details": s.details,
                "since": _moment(s.changed_at),
            }
            for s in ServiceState.objects.filter(resident=resident).order_by("service")
        ],
        "service_history": [
            {
                "happened_at": _moment(e.happened_at),
                "service": e.get_service_display(),
                "from": e.get_from_state_display(),
                "to": e.get_to_state_display(),
                "source": e.get_source_display(),
                "visit": e.visit.code if e.visit else "",
                "details": e.details,
            }
            for e in ServiceEvent.objects.filter(resident=resident)
            .select_related("visit")
            .order_by("happened_at", "id")
        ],
        "visits": [
            {
                "visit": o.visit.code,
                "happened_at": _moment(o.visit.happened_at),
                "service": o.get_service_display(),
                "result": o.get_result_display(),
            }
            for o in outcomes
        ],
        "moves": [
            {
                "moved_at": _moment(m.moved_at),
                "from_household": m.from_household.code,
                "to_household": m.to_household.code,
            }
            for m in moves
        ],
        "record_history": [
            {
                "at": _moment(h.history_date),
                "change": {"+": _("created"), "~": _("changed"), "-": _("deleted")}.get(
                    h.history_type, h.history_type
                ),
                "full_name": h.full_name,
                "birth_year": h.birth_year,
                "relation_to_head": h.relation_to_head,
                "phone": national_phone(h.phone),
                "by_official": h.history_user_id is not None,
            }
            for h in history
        ],
    }


def resident_json(resident: Resident) -> bytes:
    return json.dumps(resident_data(resident), ensure_ascii=False, indent=2).encode()


def resident_pdf(resident: Resident) -> bytes:
    """The same content as a printable A4 document in Vietnamese (Be Vietnam Pro)."""
    data = resident_data(resident)
    title_style = paragraph_style("title", size=15, bold=True)
    heading = paragraph_style("heading", size=11, bold=True, spaceBefore=8, spaceAfter=4)
    body = paragraph_style("body", size=9)
    muted = paragraph_style("muted", size=8, color=MUTED)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_("Personal data held by CNSC"),
        author="CNSC",
    )

    def table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        cells = [[paragraph(str(v) if v is not None else "—", body) for v in r] for r in rows]
        t = Table(cells, colWidths=widths, repeatRows=1 if widths else 0)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), FONT, 9),
                    ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, MUTED),
                    *([("FONT", (0, 0), (-1, 0), FONT_BOLD, 9)] if widths else []),
                ]
            )
        )
        return t

    def yes_no(value: bool | None) -> str:
        return "—" if value is None else _("yes") if value else _("no")

    person, household = data["resident"], data["household"]
    story: list[Any] = [
        paragraph(_("Personal data held by CNSC"), title_style),
        paragraph(
            _("Printed on %(day)s at the request of the person concerned.")
            % {"day": date_format(timezone.localdate(), "d/m/Y")},
            muted,
        ),
        Spacer(1, 4 * mm),
        paragraph(_("The person"), heading),
        table(
            [
                [_("Full name"), person["full_name"]],
                [_("Sex"), person["sex"]],
                [_("Year of birth"), person["birth_year"]],
                [_("Relation to the head of household"), person["relation_to_head"]],
                [_("Phone"), person["phone"]],
                [_("CCCD (only the last four digits are kept)"), person["cccd"]],
                [_("Owns a smartphone"), yes_no(person["owns_smartphone"])],
                [_("Social-welfare beneficiary"), yes_no(person["welfare_beneficiary"])],
                [_("Code"), person["code"]],
                [_("Recorded since"), person["created_at"]],
            ],
            [70 * mm, 104 * mm],
        ),
        paragraph(_("The household"), heading),
        table(
            [
                [_("Household code"), household["code"]],
                [_("Address"), household["address"]],
                [_("Hamlet or quarter"), household["hamlet"]],
                [_("Commune or ward"), household["commune"]],
                [_("Household phone"), household["phone"]],
                [_("Team that covers it"), household["team"]],
            ],
            [70 * mm, 104 * mm],
        ),
    ]
    sections: list[tuple[str, list[str], list[list[Any]], list[float]]] = [
        (
            _("Digital services now"),
            [_("Service"), _("State"), _("Since")],
            [[s["service"], s["state"], s["since"]] for s in data["services"]],
            [70 * mm, 60 * mm, 44 * mm],
        ),
        (
            _("History of the services"),
            [_("When"), _("Service"), _("From"), _("To"), _("Recorded from")],
            [
                [e["happened_at"], e["service"], e["from"], e["to"], e["source"]]
                for e in data["service_history"]
            ],
            [34 * mm, 44 * mm, 32 * mm, 32 * mm, 32 * mm],
        ),
        (
            _("Visits"),
            [_("When"), _("Visit"), _("Service"), _("Result")],
            [[v["happened_at"], v["visit"], v["service"], v["result"]] for v in data["visits"]],
            [38 * mm, 34 * mm, 62 * mm, 40 * mm],
        ),
        (
            _("Moves between households"),
            [_("When"), _("From household"), _("To household")],
            [[m["moved_at"], m["from_household"], m["to_household"]] for m in data["moves"]],
            [58 * mm, 58 * mm, 58 * mm],
        ),
        (
            _("Changes to the record"),
            [_("When"), _("Change"), _("Full name"), _("Year of birth"), _("Phone")],
            [
                [h["at"], h["change"], h["full_name"], h["birth_year"], h["phone"]]
                for h in data["record_history"]
            ],
            [34 * mm, 24 * mm, 60 * mm, 24 * mm, 32 * mm],
        ),
    ]
    for title, header, rows, widths in sections:
        story.append(paragraph(title, heading))
        if rows:
            story.append(table([header, *rows], widths))
        else:
            story.append(paragraph(_("None."), body))
    story += [
        Spacer(1, 6 * mm),
        paragraph(
            _(
                "Names of the other residents of the household, and of the members and officials "
                "who visited or changed this record, are not shown: they are other people's "
                "personal data. To have this data corrected or erased, ask the commune."
            ),
            muted,
        ),
    ]
    doc.build(story)
    return out.getvalue()


def resident_export(*, resident: Resident, user: Viewer, fmt: str) -> tuple[bytes, str]:
    """The resident's data as "pdf" or "json", and a file name; recorded as a full (unmasked)
    export of one person's data."""
    if fmt not in ("pdf", "json"):
        raise ValueError(f"unknown format {fmt!r}")
    content = resident_pdf(resident) if fmt == "pdf" else resident_json(resident)
    audit_record(
        user=user,
        action=AuditAction.EXPORT,
        target="outreach.resident",
        detail={"resident": resident.code, "format": fmt, "request": "access"},
        rows=1,
        unmasked=True,
    )
    return content, f"du-lieu-ca-nhan-{resident.code}.{fmt}"


# --- Correction -----------------------------------------------------------------------------


def resident_correction_record(*, resident: Resident, user: Viewer, fields: list[str]) -> None:
    """Put a correction made through the change form in the audit log: which fields, never
    their values (those are in the change history)."""
    if fields:
        audit_record(
            user=user,
            action=AuditAction.CORRECT,
            target="outreach.resident",
            detail={"resident": resident.code, "fields": sorted(fields)},
            rows=1,
        )


# --- Erasure --------------------------------------------------------------------------------


def _spellings(resident: Resident) -> list[str]:
    """The ways the person's name and phone may appear in free text."""
    found = [resident.full_name]
    if resident.phone:
        national = national_phone(resident.phone)
        found += [
            resident.phone,
            national,
            f"{national[:4]} {national[4:7]} {national[7:]}",
            f"{national[:4]}.{national[4:7]}.{national[7:]}",
        ]
    return [s for s in found if s]


def _redact(text: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


def _scrub_text(resident: Resident, household_ids: set[int]) -> None:
    """Free text that may name the person: the notes of visits to the households they lived in
    and the field reports of those households' communes, with the change history of both."""
    spellings = _spellings(resident)
    patterns = [re.compile(re.escape(s), re.IGNORECASE) for s in spellings]
    communes = Household.objects.filter(id__in=household_ids).values("commune_id")
    sources: list[tuple[Any, Q, tuple[str, ...]]] = [
        (Visit, Q(household_id__in=household_ids), ("notes",)),
        (FieldReport, Q(commune_id__in=communes), ("text", "answer")),
    ]
    for model, scope, fields in sources:
        mentions = Q()
        for spelling in spellings:
            for name in fields:
                mentions |= Q(**{f"{name}__icontains": spelling})
        history = model.history.model
        for manager in (model.objects, history.objects):
            rows = (
                manager.filter(scope, mentions)
                if manager is model.objects
                else (
                    manager.filter(id__in=model.objects.filter(scope).values("pk")).filter(mentions)
                )
            )
            for row in rows:
                values = {n: _redact(getattr(row, n), patterns) for n in fields}
                # update(): a redaction is not a change of the visit or report to record again.
                pk_name = "history_id" if manager is history.objects else "pk"
                manager.filter(**{pk_name: getattr(row, pk_name)}).update(**values)


@transaction.atomic
def resident_erase(*, resident: Resident, user: Viewer) -> Resident:
    """Erase the person, keep the counts: see the module's docstring for what stays and why.
    Refused for a resident already erased."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if resident.erased_at is not None:
        raise ValidationError(_("This resident's personal data has already been erased."))
    phone = resident.phone
    household_ids = {resident.household_id} | set(
        ResidentMove.objects.filter(resident=resident).values_list("from_household_id", flat=True)
    )
    _scrub_text(resident, household_ids)
    history_user = user if getattr(user, "is_authenticated", False) else None

    # The households they lived in: a head's name is in the household's search name, and the
    # household's phone may be theirs. Earlier versions of those households say so too.
    for household in Household.objects.filter(id__in=household_ids):
        changed = []
        if household.head_id == resident.pk:
            household.head = None
            changed.append("head")
        if phone and household.phone == phone:
            household.phone = ""
            changed.append("phone")
        if changed:
            household._history_user = history_user  # type: ignore[attr-defined]
            household.save(update_fields=[*changed, "updated_at"])
    household_history: Any = Household.history.model
    household_history.objects.filter(id__in=household_ids, head_id=resident.pk).update(
        search_name=F("address_key"), head_id=None
    )
    if phone:
        household_history.objects.filter(id__in=household_ids, phone=phone).update(phone="")

    # The resident: earlier versions lose the person, then the row itself does (and the change
    # history records that, and by whom).
    resident_history: Any = Resident.history.model
    resident_history.objects.filter(id=resident.pk).update(
        full_name=ERASED_NAME,
        search_name=search_key(ERASED_NAME),
        phone="",
        cccd_last4="",
        relation_to_head=Relation.OTHER,
    )
    resident.full_name = ERASED_NAME
    resident.phone = ""
    resident.cccd_hash = resident.cccd_last4 = resident.cccd_key_id = ""
    resident.relation_to_head = Relation.OTHER
    resident.erased_at = timezone.now()
    resident._history_user = history_user  # type: ignore[attr-defined]
    resident._change_reason = "Erased on request"  # type: ignore[attr-defined]
    resident.save()
    # The back office's own log names the object it changed.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Resident), object_id=str(resident.pk)
    ).update(object_repr=ERASED_NAME, change_message="")
    audit_record(
        user=user,
        action=AuditAction.ERASE,
        target="outreach.resident",
        detail={"resident": resident.code},
        rows=1,
    )
    return resident
