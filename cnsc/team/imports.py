"""Rosters in and out of spreadsheets: the .xlsx template, reading .xlsx and .csv, a dry run that
says what would change row by row, and an all-or-nothing apply.

One file holds teams, members, or both (an .xlsx with a sheet of each; a .csv holds one table,
recognised by its headers). Every row is imported into one commune, chosen when uploading.
Members are matched by phone number or CCCD hash, never duplicated; importing the same file twice
changes nothing the second time.

Built for province-scale files (100,000 members): the file is streamed, existing rows are looked
up in batches into dictionaries and written with bulk operations; no query runs per row.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from cnsc.access.models import AuditAction
from cnsc.access.scope import scope_for
from cnsc.access.services import audit_record
from cnsc.core.identity import Sex, cccd_protect, mask_phone, normalize_phone
from cnsc.core.spreadsheets import ImportFileError, Sheet, open_sheets
from cnsc.core.text import nfc, search_key
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hamlet
from cnsc.team.models import (
    Member,
    MemberRole,
    Membership,
    Organisation,
    Team,
    TeamKind,
    TeamStatus,
)
from cnsc.team.services import default_consent_purpose

BATCH = 2000
ROWS_KEPT = 1000

# --- The file format ------------------------------------------------------------------------
# Headers are part of the file format that officials fill in, so they are fixed Vietnamese
# strings, not translations. Reading ignores case, diacritics and extra spaces.


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    text: bool = False  # formatted as text in the template (leading zeros matter)
    width: int = 18


TEAM_SHEET = "Tổ CNSC"
MEMBER_SHEET = "Thành viên"
TEAM_COLUMNS = (
    Column("code", "Mã tổ", required=True, text=True, width=12),
    Column("name", "Tên tổ", required=True, width=30),
    Column("hamlet", "Thôn/Khu phố", width=24),
    Column("kind", "Loại tổ", width=22),
    Column("organisation_name", "Tên cơ quan/doanh nghiệp", width=28),
    Column("decision_number", "Số quyết định", text=True),
    Column("decision_date", "Ngày quyết định"),
    Column("status", "Trạng thái", width=14),
)
MEMBER_COLUMNS = (
    Column("full_name", "Họ và tên", required=True, width=28),
    Column("sex", "Giới tính", required=True, width=10),
    Column("birth_year", "Năm sinh", required=True, width=10),
    Column("phone", "Số điện thoại", required=True, text=True, width=16),
    Column("email", "Email", width=24),
    Column("cccd", "Số CCCD", text=True, width=16),
    Column("organisation", "Đơn vị công tác", width=28),
    Column("skills", "Kỹ năng", width=30),
    Column("consent", "Đồng ý xử lý dữ liệu cá nhân", width=14),
    Column("team_code", "Mã tổ", text=True, width=12),
    Column("role", "Vai trò", width=12),
    Column("joined_on", "Ngày vào tổ"),
)

KIND_VALUES = {TeamKind.HAMLET: "Thôn/khu phố", TeamKind.ORGANISATION: "Cơ quan/doanh nghiệp"}
STATUS_VALUES = {
    TeamStatus.ACTIVE: "Hoạt động",
    TeamStatus.SUSPENDED: "Tạm ngừng",
    TeamStatus.DISSOLVED: "Giải thể",
}
SEX_VALUES = {Sex.MALE: "Nam", Sex.FEMALE: "Nữ"}
ROLE_VALUES = {
    MemberRole.LEADER: "Tổ trưởng",
    MemberRole.DEPUTY: "Tổ phó",
    MemberRole.MEMBER: "Tổ viên",
}
ORGANISATION_VALUES = {
    Organisation.COMMUNE_POLICE: "Công an xã",
    Organisation.YOUTH_UNION: "Đoàn thanh niên",
    Organisation.WOMENS_UNION: "Hội phụ nữ",
    Organisation.VETERANS: "Hội cựu chiến binh",
    Organisation.POST_OFFICE: "Bưu điện",
    Organisation.TELECOM: "Doanh nghiệp viễn thông",
    Organisation.SCHOOL: "Trường học",
    Organisation.HEALTH_STATION: "Trạm y tế",
    Organisation.HAMLET_LEADERSHIP: "Ban điều hành thôn/khu phố",
    Organisation.OTHER: "Khác",
}
YES, NO = "Có", "Không"


def _lookup(values: Mapping[Any, str], *extra: tuple[str, str]) -> dict[str, str]:
    """Accept the Vietnamese label, the stored value, or a listed alias, without diacritics."""
    table = {search_key(label): key for key, label in values.items()}
    table.update({search_key(key): key for key in values})
    table.update({search_key(alias): key for alias, key in extra})
    return table


_KIND = _lookup(KIND_VALUES, ("thon", TeamKind.HAMLET), ("khu pho", TeamKind.HAMLET))
_STATUS = _lookup(STATUS_VALUES)
_SEX = _lookup(SEX_VALUES, ("nu", Sex.FEMALE), ("male", Sex.MALE), ("female", Sex.FEMALE))
_ROLE = _lookup(
    ROLE_VALUES, ("truong", MemberRole.LEADER), ("pho", MemberRole.DEPUTY), ("thanh vien", "member")
)
_ORGANISATION = _lookup(
    ORGANISATION_VALUES,
    ("cong an", Organisation.COMMUNE_POLICE),
    ("doan thanh nien", Organisation.YOUTH_UNION),
    ("hoi phu nu", Organisation.WOMENS_UNION),
    ("cuu chien binh", Organisation.VETERANS),
    ("vien thong", Organisation.TELECOM),
    ("viettel", Organisation.TELECOM),
    ("vnpt", Organisation.TELECOM),
    ("mobifone", Organisation.TELECOM),
    ("truong", Organisation.SCHOOL),
    ("tram y te", Organisation.HEALTH_STATION),
    ("ban dieu hanh", Organisation.HAMLET_LEADERSHIP),
)
_YES = {search_key(v) for v in (YES, "x", "yes", "1", "true", "dong y")}
_NO = {search_key(v) for v in (NO, "no", "0", "false", "")}


# --- Template -------------------------------------------------------------------------------


def template_workbook() -> bytes:
    """The .xlsx officials fill in: a sheet of teams, a sheet of members, and how to fill them."""
    wb = Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    choices = {
        "kind": list(KIND_VALUES.values()),
        "status": list(STATUS_VALUES.values()),
        "sex": list(SEX_VALUES.values()),
        "role": list(ROLE_VALUES.values()),
        "organisation": list(ORGANISATION_VALUES.values()),
        "consent": [YES, NO],
    }
    for index, (title, columns) in enumerate(
        ((TEAM_SHEET, TEAM_COLUMNS), (MEMBER_SHEET, MEMBER_COLUMNS))
    ):
        ws = wb.active if index == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = title
        ws.freeze_panes = "A2"
        for number, column in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=number, value=column.header)
            cell.font = bold
            cell.fill = fill
            letter = get_column_letter(number)
            ws.column_dimensions[letter].width = column.width
            if column.text:
                # Keeps the leading 0 of phone numbers, CCCDs and codes.
                for row in range(2, 1001):
                    ws.cell(row=row, column=number).number_format = "@"
            if column.key in choices:
                rule = DataValidation(
                    type="list", formula1='"' + ",".join(choices[column.key]) + '"'
                )
                rule.add(f"{letter}2:{letter}10000")
                ws.add_data_validation(rule)
    guide = wb.create_sheet("Hướng dẫn")
    for line in GUIDE:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


GUIDE = (
    "Mỗi dòng của trang «Tổ CNSC» là một tổ; mỗi dòng của trang «Thành viên» là một người.",
    "Cột có dấu * là bắt buộc: Mã tổ, Tên tổ; Họ và tên, Giới tính, Năm sinh, Số điện thoại.",
    "Thôn/Khu phố: ghi đúng tên thôn, khu phố như trong hệ thống (hoặc mã của nó).",
    "Số điện thoại: số Việt Nam, ví dụ 0912 345 678. Số CCCD: 12 chữ số, có thể để trống.",
    "Mã tổ ở trang «Thành viên» chỉ tổ mà người đó tham gia; Vai trò: Tổ trưởng, Tổ phó, Tổ viên.",
    "Đồng ý xử lý dữ liệu cá nhân: chỉ ghi «Có» khi người đó đã đồng ý.",
    "Người đã có trong hệ thống (cùng số điện thoại hoặc CCCD) được cập nhật, không tạo trùng.",
    "Ngày: dd/mm/yyyy. Tải tệp lên sẽ xem trước; chỉ khi không còn lỗi mới ghi được.",
)


# --- Reading --------------------------------------------------------------------------------


@dataclass
class Table:
    kind: str  # "teams" or "members"
    sheet: str
    columns: dict[str, int]  # key -> position
    rows: Iterable[tuple[int, Sequence[Any]]]  # (row number in the file, values)


def _kind_of(headers: dict[str, int]) -> str | None:
    member_keys = {search_key(c.header) for c in MEMBER_COLUMNS if c.required}
    team_keys = {search_key(c.header) for c in TEAM_COLUMNS if c.required}
    if member_keys <= headers.keys():
        return "members"
    if team_keys <= headers.keys() and search_key("Họ và tên") not in headers:
        return "teams"
    return None


def _columns(kind: str, headers: dict[str, int]) -> dict[str, int]:
    spec = TEAM_COLUMNS if kind == "teams" else MEMBER_COLUMNS
    return {c.key: headers[search_key(c.header)] for c in spec if search_key(c.header) in headers}


def _tables(sheets: list[Sheet]) -> list[Table]:
    """The tables of teams and members among the sheets of an uploaded file, or ImportFileError."""
    tables = []
    for sheet in sheets:
        kind = _kind_of(sheet.headers)
        if kind is not None:
            tables.append(Table(kind, sheet.name, _columns(kind, sheet.headers), sheet.rows))
    if not tables:
        raise ImportFileError(
            _(
                "No table of teams or members was found. The first row must hold the column "
                "names of the template (for members at least: %(columns)s)."
            )
            % {"columns": ", ".join(c.header for c in MEMBER_COLUMNS if c.required)}
        )
    return tables


# --- Planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int
    column: str
    message: str


@dataclass
class RowPlan:
    sheet: str
    row: int
    action: str  # "create", "update", "unchanged"
    label: str


@dataclass
class TeamRow:
    row: int
    values: dict[str, Any]
    existing: Team | None


@dataclass
class MemberRow:
    row: int
    values: dict[str, Any]
    cccd: Any  # HashedCccd | None
    consent: bool
    team_code: str
    role: str
    joined_on: dt.date | None
    existing_id: int | None = None
    member: Member | None = None  # set by apply


@dataclass
class ImportPlan:
    commune: AdminUnit
    errors: list[RowError] = field(default_factory=list)
    rows: list[RowPlan] = field(default_factory=list)  # the first ROWS_KEPT changes
    read: int = 0  # valid rows read
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    teams: list[TeamRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    # Filled while planning, used by apply.
    existing_members: dict[int, Member] = field(default_factory=dict)
    active: dict[int, Membership] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, sheet: str, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(sheet, row, column, message))

    def planned(self, sheet: str, row: int, action: str, label: str, what: str) -> None:
        self.counts[f"{what}_{action}"] += 1
        self.read += 1
        # A preview shows the first changes; keeping 100,000 unchanged rows would only cost memory.
        if action != "unchanged" and len(self.rows) < ROWS_KEPT:
            self.rows.append(RowPlan(sheet, row, action, label))


def _cell(values: Sequence[Any], columns: dict[str, int], key: str) -> Any:
    position = columns.get(key)
    if position is None or position >= len(values):
        return None
    value = values[position]
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar day)
        except ValueError:
            continue
    raise ValueError(text)


def _header(columns: tuple[Column, ...], key: str) -> str:
    return next(c.header for c in columns if c.key == key)


class _RowErrors:
    """Collects one row's problems under their Vietnamese column names."""

    def __init__(self, plan: ImportPlan, sheet: str, row: int, columns: tuple[Column, ...]):
        self.plan, self.sheet, self.row, self.columns = plan, sheet, row, columns
        self.count = 0

    def add(self, key: str, message: str) -> None:
        column = _header(self.columns, key) if key else ""
        self.plan.error(self.sheet, self.row, column, message)
        self.count += 1

    def add_validation(self, exc: ValidationError, field_to_key: dict[str, str]) -> None:
        for name, messages in exc.message_dict.items():
            for message in messages:
                self.add(field_to_key.get(name, ""), message)


def _choice(value: Any, table: dict[str, str]) -> str | None:
    return table.get(search_key(_text(value)))


def _plan_teams(plan: ImportPlan, tables: list[Table]) -> tuple[dict[str, Team], dict[str, int]]:
    """Validate the team rows; return the team codes usable by the member rows, and the codes
    of team rows with errors (with their row numbers)."""
    commune = plan.commune
    existing = {t.code: t for t in Team.objects.filter(commune=commune).select_related("hamlet")}
    hamlets = list(Hamlet.objects.filter(commune=commune, retired_on__isnull=True))
    by_name = {search_key(h.name): h for h in hamlets}
    by_code = {h.code: h for h in hamlets}
    usable: dict[str, Team] = dict(existing)
    broken: dict[str, int] = {}
    seen: dict[str, int] = {}
    field_to_key = {"hamlet": "hamlet", "organisation_name": "organisation_name", "name": "name"}
    field_to_key |= {"decision_date": "decision_date", "code": "code", "kind": "kind"}

    pending: list[tuple[Table, int, Sequence[Any]]] = [
        (t, n, v) for t in tables if t.kind == "teams" for n, v in t.rows
    ]
    hamlet_words = {_text(_cell(v, t.columns, "hamlet")) for t, _n, v in pending}
    foreign = {
        h.code: h
        for h in Hamlet.objects.filter(code__in=hamlet_words - by_code.keys()).exclude(
            commune=commune
        )
    }
    for table, number, values in pending:
        errors = _RowErrors(plan, table.sheet, number, TEAM_COLUMNS)
        code = _text(_cell(values, table.columns, "code"))
        name = _text(_cell(values, table.columns, "name"))
        if not code:
            errors.add("code", _("Give the team's code."))
        if not name:
            errors.add("name", _("Give the team's name."))
        if code in seen:
            errors.add("code", _("This team code is already on row %(row)d.") % {"row": seen[code]})
        elif code:
            seen[code] = number
        kind = _choice(_cell(values, table.columns, "kind"), _KIND) or TeamKind.HAMLET
        if _text(_cell(values, table.columns, "kind")) and not _choice(
            _cell(values, table.columns, "kind"), _KIND
        ):
            errors.add(
                "kind",
                _("Unknown kind of team: write %(values)s.")
                % {"values": " / ".join(KIND_VALUES.values())},
            )
        status_raw = _cell(values, table.columns, "status")
        status = _choice(status_raw, _STATUS) if status_raw is not None else TeamStatus.ACTIVE
        if status is None:
            errors.add(
                "status",
                _("Unknown status: write %(values)s.")
                % {"values": " / ".join(STATUS_VALUES.values())},
            )
            status = TeamStatus.ACTIVE
        hamlet_text = _text(_cell(values, table.columns, "hamlet"))
        hamlet: Hamlet | None = None
        if hamlet_text:
            hamlet = by_code.get(hamlet_text) or by_name.get(search_key(hamlet_text))
            if hamlet is None and hamlet_text in foreign:
                errors.add("hamlet", _("This hamlet belongs to another commune."))
            elif hamlet is None:
                errors.add(
                    "hamlet",
                    _("No hamlet or quarter of %(commune)s has this name.")
                    % {"commune": commune.name},
                )
        decision_date = None
        raw_date = _cell(values, table.columns, "decision_date")
        if raw_date is not None:
            try:
                decision_date = _date(raw_date)
            except ValueError:
                errors.add("decision_date", _("Write the date as dd/mm/yyyy."))
        wanted = {
            "name": name,
            "kind": kind,
            "hamlet": hamlet,
            "organisation_name": _text(_cell(values, table.columns, "organisation_name")),
            "decision_number": _text(_cell(values, table.columns, "decision_number")),
            "decision_date": decision_date,
            "status": status,
        }
        current = existing.get(code)
        candidate = Team(commune=commune, code=code, **wanted)
        if current is not None:
            candidate.pk = current.pk
            candidate._state.adding = False
        if not errors.count:
            try:
                candidate.full_clean(
                    exclude=["commune", "hamlet"], validate_unique=False, validate_constraints=False
                )
            except ValidationError as exc:
                errors.add_validation(exc, field_to_key)
        if errors.count:
            if code:
                broken.setdefault(code, number)
            continue
        if current is None:
            action = "create"
        elif all(getattr(current, k) == v for k, v in wanted.items()):
            action = "unchanged"
        else:
            action = "update"
        plan.planned(table.sheet, number, action, f"{code} — {name}", "teams")
        if action != "unchanged":
            plan.teams.append(TeamRow(number, wanted | {"code": code}, current))
        usable[code] = current or candidate
    return usable, broken


_MEMBER_FIELDS = ("full_name", "sex", "birth_year", "phone", "email", "organisation", "skills")


def _parse_member(
    plan: ImportPlan, table: Table, number: int, values: Sequence[Any]
) -> MemberRow | None:
    errors = _RowErrors(plan, table.sheet, number, MEMBER_COLUMNS)
    cols = table.columns
    full_name = _text(_cell(values, cols, "full_name"))
    if not full_name:
        errors.add("full_name", _("Enter the member's full name."))
    sex = _choice(_cell(values, cols, "sex"), _SEX)
    if sex is None:
        errors.add("sex", _("Write Nam or Nữ."))
    birth_year: int | None = None
    raw_year = _cell(values, cols, "birth_year")
    try:
        birth_year = int(_text(raw_year))
    except ValueError:
        errors.add("birth_year", _("Write the year of birth with four digits, e.g. 1985."))
    phone = ""
    try:
        phone = normalize_phone(_text(_cell(values, cols, "phone")))
    except ValidationError as exc:
        errors.add("phone", exc.messages[0])
    organisation: str = Organisation.OTHER
    raw_org = _cell(values, cols, "organisation")
    if raw_org is not None:
        found = _choice(raw_org, _ORGANISATION)
        if found is None:
            errors.add(
                "organisation",
                _("Unknown organisation: write one of %(values)s.")
                % {"values": ", ".join(ORGANISATION_VALUES.values())},
            )
        else:
            organisation = found
    consent_key = search_key(_text(_cell(values, cols, "consent")))
    if consent_key not in _YES and consent_key not in _NO:
        errors.add("consent", _("Write Có or Không."))
    cccd = None
    raw_cccd = _cell(values, cols, "cccd")
    if raw_cccd is not None:
        # A CCCD typed into a number cell loses its leading zero; every province code has one.
        text = f"{int(raw_cccd):012d}" if isinstance(raw_cccd, int | float) else _text(raw_cccd)
        try:
            cccd = cccd_protect(text, sex=sex, birth_year=birth_year)
        except ValidationError as exc:
            errors.add("cccd", exc.messages[0])
    role: str = MemberRole.MEMBER
    raw_role = _cell(values, cols, "role")
    if raw_role is not None:
        found = _choice(raw_role, _ROLE)
        if found is None:
            errors.add("role", _("Write Tổ trưởng, Tổ phó or Tổ viên."))
        else:
            role = found
    joined_on = None
    raw_joined = _cell(values, cols, "joined_on")
    if raw_joined is not None:
        try:
            joined_on = _date(raw_joined)
        except ValueError:
            errors.add("joined_on", _("Write the date as dd/mm/yyyy."))
        else:
            if joined_on > timezone.localdate():
                errors.add("joined_on", _("The date cannot be in the future."))
    values_dict = {
        "full_name": full_name,
        "sex": sex,
        "birth_year": birth_year,
        "phone": phone,
        "email": _text(_cell(values, cols, "email")),
        "organisation": organisation,
        "skills": _text(_cell(values, cols, "skills")),
    }
    if not errors.count:
        try:
            # Foreign keys excluded: validating them costs a query per row.
            Member(commune=plan.commune, **values_dict).full_clean(
                exclude=["code", "commune", "user"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            errors.add_validation(exc, {k: k for k in _MEMBER_FIELDS})
    if errors.count:
        return None
    return MemberRow(
        row=number,
        values=values_dict,
        cccd=cccd,
        consent=consent_key in _YES,
        team_code=_text(_cell(values, cols, "team_code")),
        role=role,
        joined_on=joined_on,
    )


def _chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _plan_members(
    plan: ImportPlan,
    tables: list[Table],
    teams: dict[str, Team],
    broken: dict[str, int],
    user: Viewer,
) -> None:
    commune = plan.commune
    rows: list[MemberRow] = []
    phone_rows: dict[str, int] = {}
    hash_rows: dict[str, int] = {}
    sheet_of: dict[int, str] = {}
    for table in tables:
        if table.kind != "members":
            continue
        for number, values in table.rows:
            parsed = _parse_member(plan, table, number, values)
            if parsed is None:
                continue
            errors = _RowErrors(plan, table.sheet, number, MEMBER_COLUMNS)
            phone = parsed.values["phone"]
            if phone in phone_rows:
                errors.add(
                    "phone",
                    _("The same phone number is already on row %(row)d.")
                    % {"row": phone_rows[phone]},
                )
            if parsed.cccd is not None and parsed.cccd.hash in hash_rows:
                errors.add(
                    "cccd",
                    _("The same CCCD is already on row %(row)d.")
                    % {"row": hash_rows[parsed.cccd.hash]},
                )
            if parsed.team_code in broken:
                errors.add(
                    "team_code",
                    _("The row of this team (row %(row)d of the teams) has errors.")
                    % {"row": broken[parsed.team_code]},
                )
            elif parsed.team_code and parsed.team_code not in teams:
                errors.add(
                    "team_code",
                    _("No team of %(commune)s has this code.") % {"commune": commune.name},
                )
            if errors.count:
                continue
            phone_rows[phone] = number
            if parsed.cccd is not None:
                hash_rows[parsed.cccd.hash] = number
            sheet_of[number] = table.sheet
            rows.append(parsed)

    # Who is already on a roster: by phone, and by CCCD under any key of the chain.
    by_phone: dict[str, Member] = {}
    for chunk in _chunks([r.values["phone"] for r in rows]):
        for m in Member.objects.filter(phone__in=chunk):
            by_phone[m.phone] = m
    by_hash: dict[str, Member] = {}
    all_hashes = [h for r in rows if r.cccd is not None for h in r.cccd.matches]
    for chunk in _chunks(all_hashes):
        for m in Member.objects.filter(cccd_hash__in=chunk):
            by_hash[m.cccd_hash] = m
    scope = scope_for(user)
    visible_communes = (
        None if scope.everything else set(scope.commune_ids().values_list("id", flat=True))
    )

    matched: list[tuple[MemberRow, Member | None]] = []
    for r in rows:
        sheet = sheet_of[r.row]
        errors = _RowErrors(plan, sheet, r.row, MEMBER_COLUMNS)
        found_phone = by_phone.get(r.values["phone"])
        found_cccd = None
        if r.cccd is not None:
            found_cccd = next((by_hash[h] for h in r.cccd.matches if h in by_hash), None)
        if found_phone and found_cccd and found_phone.pk != found_cccd.pk:
            errors.add("cccd", _("The phone number and the CCCD belong to two different members."))
            continue
        existing = found_phone or found_cccd
        if (
            existing is not None
            and visible_communes is not None
            and existing.commune_id not in visible_communes
        ):
            errors.add(
                "phone",
                _(
                    "This person is on the roster of another commune; ask that commune to "
                    "move them."
                ),
            )
            continue
        if existing is not None:
            plan.existing_members[existing.pk] = existing
            r.existing_id = existing.pk
        matched.append((r, existing))

    for chunk in _chunks(list(plan.existing_members)):
        for ms in Membership.objects.filter(member_id__in=chunk, left_on__isnull=True):
            plan.active[ms.member_id] = ms
    team_ids = [t.pk for t in teams.values() if t.pk]
    leaders: dict[int, int] = dict(
        Membership.objects.filter(
            team_id__in=team_ids, role=MemberRole.LEADER, left_on__isnull=True
        ).values_list("team_id", "member_id")
    )
    # Leaders once the file is applied: who stays, who comes.
    staying = dict(leaders)
    for r, existing in matched:
        if existing is None or not r.team_code:
            continue
        current = plan.active.get(existing.pk)
        target = teams[r.team_code]
        if (
            current is not None
            and current.role == MemberRole.LEADER
            and (current.team_id != target.pk or r.role != MemberRole.LEADER)
        ):
            staying.pop(current.team_id, None)
    new_leader_rows: dict[str, int] = {}

    for r, existing in matched:
        sheet = sheet_of[r.row]
        errors = _RowErrors(plan, sheet, r.row, MEMBER_COLUMNS)
        label = f"{r.values['full_name']} ({mask_phone(r.values['phone'])})"
        team = teams.get(r.team_code) if r.team_code else None
        current = plan.active.get(existing.pk) if existing is not None else None
        if team is not None and r.role == MemberRole.LEADER:
            already = staying.get(team.pk) if team.pk else None
            if r.team_code in new_leader_rows:
                errors.add(
                    "role",
                    _("Row %(row)d already makes someone the leader of this team.")
                    % {"row": new_leader_rows[r.team_code]},
                )
            elif already is not None and (existing is None or already != existing.pk):
                errors.add(
                    "role",
                    _(
                        "This team already has a leader. End the current leader's membership "
                        "(or make them a member) first."
                    ),
                )
            else:
                new_leader_rows[r.team_code] = r.row
        if team is not None and team.status == TeamStatus.DISSOLVED:
            errors.add("team_code", _("This team has been dissolved."))
        if (
            team is not None
            and current is not None
            and (current.team_id != team.pk or current.role != r.role)
        ):
            move_on = r.joined_on or timezone.localdate()
            if move_on < current.joined_on:
                errors.add(
                    "joined_on",
                    _("A member cannot leave before the day they joined."),
                )
        if errors.count:
            continue
        if existing is None:
            action = "create"
        else:
            action = "unchanged" if _same_member(existing, r) else "update"
        membership_changes = team is not None and (
            current is None or current.team_id != team.pk or current.role != r.role
        )
        if action == "unchanged" and membership_changes:
            action = "update"
        plan.planned(sheet, r.row, action, label, "members")
        if action != "unchanged":
            plan.members.append(r)


def _same_member(existing: Member, r: MemberRow) -> bool:
    if any(getattr(existing, k) != v for k, v in r.values.items()):
        return False
    if r.cccd is not None and existing.cccd_hash not in r.cccd.matches:
        return False
    return not (r.consent and existing.consent_given_at is None)


def plan_import(*, tables: list[Table], commune: AdminUnit, user: Viewer) -> ImportPlan:
    """What the file would change, row by row, with every error. Writes nothing."""
    plan = ImportPlan(commune=commune)
    teams, broken = _plan_teams(plan, tables)
    _plan_members(plan, tables, teams, broken, user)
    if not plan.read and not plan.errors:
        raise ImportFileError(_("The file has column names but no rows."))
    return plan


# --- Applying -------------------------------------------------------------------------------


def _apply(plan: ImportPlan, user: Viewer) -> None:
    history_user = user if user.is_authenticated else None
    commune = plan.commune
    today = timezone.localdate()
    now = timezone.now()
    teams = {t.code: t for t in Team.objects.filter(commune=commune)}
    for team_row in plan.teams:
        team = team_row.existing or Team(commune=commune, code=team_row.values["code"])
        status_before = team.status if team_row.existing else None
        for key, value in team_row.values.items():
            setattr(team, key, value)
        if status_before is not None and status_before != team.status:
            team.status_since = today
        team.save()
        teams[team.code] = team

    new_members: list[Member] = []
    changed_members: list[Member] = []
    for r in plan.members:
        if r.existing_id is None:
            member = Member(commune=commune, **r.values)
            new_members.append(member)
        else:
            member = plan.existing_members[r.existing_id]
            for key, value in r.values.items():
                setattr(member, key, value)
            changed_members.append(member)
        if r.cccd is not None and member.cccd_hash not in r.cccd.matches:
            member.cccd_hash, member.cccd_last4 = r.cccd.hash, r.cccd.last4
            member.cccd_key_id = r.cccd.key_id
        if r.consent and member.consent_given_at is None:
            member.consent_purpose = member.consent_purpose or default_consent_purpose()
            member.consent_given_at = now
        if r.team_code and teams[r.team_code].commune_id != member.commune_id:
            member.commune_id = teams[r.team_code].commune_id
        # bulk_create does not call save(), which derives these.
        member.full_name = nfc(member.full_name)
        member.search_name = search_key(member.full_name)
        r.member = member

    fields = [*_MEMBER_FIELDS, "search_name", "commune", "cccd_hash", "cccd_last4"]
    fields += ["cccd_key_id", "consent_purpose", "consent_given_at"]
    if changed_members:
        bulk_update_with_history(
            changed_members, Member, fields, batch_size=BATCH, default_user=history_user
        )
    if new_members:
        bulk_create_with_history(new_members, Member, batch_size=BATCH, default_user=history_user)

    ended: list[Membership] = []
    started: list[Membership] = []
    for r in plan.members:
        if not r.team_code:
            continue
        joining = r.member
        assert joining is not None
        team = teams[r.team_code]
        current = plan.active.get(joining.pk)
        if current is not None and current.team_id == team.pk and current.role == r.role:
            continue
        on = r.joined_on or today
        if current is not None:
            current.left_on = on
            ended.append(current)
        started.append(Membership(member=joining, team=team, role=r.role, joined_on=on))
    # Ends first: a leader handing over in the same file frees the team's one leader place.
    if ended:
        bulk_update_with_history(
            ended, Membership, ["left_on"], batch_size=BATCH, default_user=history_user
        )
    if started:
        bulk_create_with_history(started, Membership, batch_size=BATCH, default_user=history_user)
    plan.counts["memberships_started"] = len(started)
    plan.counts["memberships_ended"] = len(ended)


def import_roster(
    *,
    upload: IO[bytes],
    size: int,
    commune: AdminUnit,
    user: Viewer,
    apply: bool,
    file_name: str = "",
) -> ImportPlan:
    """Read, plan and (when ``apply`` and nothing is wrong) write, in one transaction. Any error
    anywhere and nothing is written. Every run is recorded in the audit log."""
    with (
        open_sheets(upload, size=size, limit=settings.IMPORT_MAX_BYTES) as sheets,
        transaction.atomic(),
    ):
        plan = plan_import(tables=_tables(sheets), commune=commune, user=user)
        if apply and plan.ok:
            _apply(plan, user)
        audit_record(
            user=user,
            action=AuditAction.IMPORT,
            target="team.member",
            detail={
                "commune": commune.code,
                "file": file_name[:100],
                "dry_run": not (apply and plan.ok),
                "errors": len(plan.errors),
                **{k: v for k, v in plan.counts.items() if v},
            },
            rows=plan.read + len({(e.sheet, e.row) for e in plan.errors}),
        )
    return plan
