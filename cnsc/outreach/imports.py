"""The commune's household list from a spreadsheet (.xlsx or .csv): the template, a dry run that
says what would change with every error by row and column, and an all-or-nothing apply.

The file has one row per resident; the household's columns repeat on each of its residents'
rows. Every row goes into one commune, chosen when uploading. Matching, so that importing the
same list again updates rather than duplicates:

- a household by its code in the commune when the file gives one, otherwise by its hamlet and
  normalised address (house number and street without diacritics or spacing differences);
- a resident by the keyed hash of their CCCD anywhere, otherwise by name and year of birth within
  the household the row matched. A resident found in another household moves (the move is
  recorded); one registered in a commune the user cannot see is refused.

An empty cell never erases anything: it leaves what is stored (erasure is its own procedure,
cnsc.outreach.rights). A masked value from an export ("0912***678", "********1234") counts as
empty. Service states in the file move a resident forward and are recorded as events from the
import; a state behind the stored one is not applied and the preview says so.

Scale: a province of 2.7 million residents. Rows are streamed and checked one at a time in
Python (cnsc.core.bulk gives the shared checks' answers fast), then written to temporary staging
tables (PostgreSQL: COPY; SQLite: executemany in chunks). Everything that compares rows with
each other or with the database (duplicates, matching, heads of household) is then done by SQL on
the staging tables, and applied with INSERT ... SELECT and UPDATE ... FROM. Memory stays the same
whatever the size of the file; the database holds the rows. All of it runs in one transaction.
"""

# The SQL below is put together from this module's constants (table and column names); every value
# from a file or a user travels as a query parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cnsc.access.models import AuditAction
from cnsc.access.scope import EVERYTHING, scope_for
from cnsc.access.services import audit_record
from cnsc.core.bulk import CccdChecker, PhoneChecker, SearchKeys, random_codes
from cnsc.core.identity import Sex, hash_keys
from cnsc.core.spreadsheets import (
    Column,
    ImportFileError,
    Sheet,
    TemplateSheet,
    header_key,
    lookup,
    open_sheets,
    parse_date,
    template_workbook,
    text,
)
from cnsc.core.text import nfc
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hamlet
from cnsc.team.models import Team, TeamKind, TeamStatus

from .catalogue import STATES, Service, State
from .models import Household, Relation, Resident, ServiceEvent, ServiceState, Source

CHUNK = 5000
MAX_ERRORS = 1000  # kept for display; all are counted
PREVIEW_ROWS = 200
MAX_AGE = 120
# Nothing the teams recorded is older than the teams (guideline 793/BTTTT-THH, March 2022).
EARLIEST_STATES = dt.date(2022, 3, 1)

# --- The file format ------------------------------------------------------------------------

SHEET = "Hộ gia đình"
COLUMNS: tuple[Column, ...] = (
    Column("household_code", "Mã hộ", text=True, width=14),
    Column("hamlet", "Thôn/Khu phố", required=True, width=22),
    Column("house_number", "Số nhà", text=True, width=10),
    Column("street", "Đường/Hẻm", width=24),
    Column("household_phone", "Điện thoại của hộ", text=True, width=16),
    Column("team_code", "Mã tổ CNSC", text=True, width=12),
    Column("full_name", "Họ và tên", required=True, width=26),
    Column("relation", "Quan hệ với chủ hộ", width=18),
    Column("sex", "Giới tính", width=10),
    Column("birth_year", "Năm sinh", width=10),
    Column("phone", "Số điện thoại", text=True, width=16),
    Column("cccd", "Số CCCD", text=True, width=16),
    Column("smartphone", "Có điện thoại thông minh", width=14),
    Column("welfare", "Hưởng an sinh xã hội", width=14),
    Column(f"state_{Service.VNEID}", "VNeID", width=14),
    Column(f"state_{Service.SIGNATURE}", "Chữ ký số", width=12),
    Column(f"state_{Service.PAYMENT}", "Tài khoản thanh toán", width=14),
    Column(f"state_{Service.PUBLIC_SERVICES}", "Dịch vụ công trực tuyến", width=18),
    Column(f"state_{Service.PROVINCE_APP}", "Ứng dụng của tỉnh", width=18),
    Column(f"state_{Service.DIGITAL_SKILLS}", "Kỹ năng số", width=14),
    Column(f"state_{Service.WELFARE_ACCOUNT}", "An sinh qua tài khoản", width=16),
    Column("states_on", "Ngày ghi nhận", width=14),
)
HEADERS = {c.key: c.header for c in COLUMNS}

SEX_VALUES = {Sex.MALE: "Nam", Sex.FEMALE: "Nữ"}
YES, NO = "Có", "Không"
RELATION_VALUES = {
    Relation.HEAD: "Chủ hộ",
    Relation.SPOUSE: "Vợ/Chồng",
    Relation.CHILD: "Con",
    Relation.PARENT: "Bố/Mẹ",
    Relation.GRANDCHILD: "Cháu",
    Relation.GRANDPARENT: "Ông/Bà",
    Relation.SIBLING: "Anh/Chị/Em",
    Relation.CHILD_IN_LAW: "Con dâu/Con rể",
    Relation.OTHER_RELATIVE: "Họ hàng",
    Relation.OTHER: "Không quan hệ",
}
STATE_VALUES: dict[str, dict[str, str]] = {
    Service.VNEID: {
        State.NONE: "Chưa có",
        State.REGISTERED: "Đã đăng ký",
        State.LEVEL1: "Mức 1",
        State.LEVEL2: "Mức 2",
    },
    Service.SIGNATURE: {State.NONE: "Chưa có", State.ISSUED: "Đã cấp"},
    Service.PAYMENT: {State.NONE: "Chưa có", State.OPENED: "Đã mở"},
    Service.PUBLIC_SERVICES: {
        State.NONE: "Chưa có",
        State.ACCOUNT: "Có tài khoản",
        State.FILED: "Đã nộp hồ sơ",
    },
    Service.PROVINCE_APP: {
        State.NONE: "Chưa cài",
        State.INSTALLED: "Đã cài đặt",
        State.VNEID_LOGIN: "Đăng nhập bằng VNeID",
    },
    Service.DIGITAL_SKILLS: {State.NONE: "Chưa học", State.COMPLETED: "Đã hoàn thành"},
    Service.WELFARE_ACCOUNT: {State.NONE: "Chưa", State.PAID_VIA_ACCOUNT: "Nhận qua tài khoản"},
}
# Every state of the catalogue needs its Vietnamese value in the file format.
assert set(STATE_VALUES) == set(STATES)
assert all(list(STATE_VALUES[s]) == list(STATES[s]) for s in STATES)

_SEX = lookup(SEX_VALUES, ("nu", Sex.FEMALE), ("male", Sex.MALE), ("female", Sex.FEMALE))
_YES_NO = {**dict.fromkeys(("co", "x", "yes", "1", "true"), True)} | dict.fromkeys(
    ("khong", "no", "0", "false"), False
)
_RELATION = lookup(
    RELATION_VALUES,
    ("vo", Relation.SPOUSE),
    ("chong", Relation.SPOUSE),
    ("bo", Relation.PARENT),
    ("cha", Relation.PARENT),
    ("me", Relation.PARENT),
    ("ong", Relation.GRANDPARENT),
    ("ba", Relation.GRANDPARENT),
    ("anh", Relation.SIBLING),
    ("chi", Relation.SIBLING),
    ("em", Relation.SIBLING),
    ("con dau", Relation.CHILD_IN_LAW),
    ("con re", Relation.CHILD_IN_LAW),
    ("ho hang khac", Relation.OTHER_RELATIVE),
    ("khac", Relation.OTHER),
)


def _state_table(service: str) -> dict[str, str]:
    states = STATES[service]
    aliases: list[tuple[str, str]] = [
        ("khong", State.NONE),
        ("chua", State.NONE),
        ("0", State.NONE),
    ]
    if len(states) == 2:
        aliases.append(("co", states[1]))
    if service == Service.VNEID:
        aliases += [("1", State.LEVEL1), ("2", State.LEVEL2), ("muc1", State.LEVEL1)]
        aliases += [("muc2", State.LEVEL2)]
    return lookup(STATE_VALUES[service], *aliases)


_STATES = {service: _state_table(service) for service in STATES}
# A state's place in its service's order; every state but "none" belongs to one service.
_RANK = {state: rank for states in STATES.values() for rank, state in enumerate(states)}

GUIDE = (
    "Mỗi dòng là một người (nhân khẩu). Các cột của hộ (Mã hộ, Thôn/Khu phố, Số nhà, Đường/Hẻm, "
    "Điện thoại của hộ, Mã tổ CNSC) ghi lại trên mỗi dòng của người trong hộ.",
    "Cột bắt buộc: Thôn/Khu phố, Họ và tên. Mỗi hộ cần Mã hộ, hoặc Số nhà và Đường/Hẻm.",
    "Thôn/Khu phố: ghi đúng tên như trong hệ thống (hoặc mã của nó); dấu và chữ hoa không quan "
    "trọng.",
    "Mã hộ: số hộ của xã/phường. Nếu để trống, hộ được nhận ra theo thôn và địa chỉ; hệ thống "
    "cấp mã mới (xem trong tệp xuất).",
    "Quan hệ với chủ hộ: Chủ hộ, Vợ/Chồng, Con, Bố/Mẹ, Cháu, Ông/Bà, Anh/Chị/Em, Con dâu/Con rể, "
    "Họ hàng, Không quan hệ. Mỗi hộ một chủ hộ.",
    "Số điện thoại: số Việt Nam, ví dụ 0912 345 678. Số CCCD: 12 chữ số, khớp giới tính và năm "
    "sinh; hệ thống chỉ lưu mã băm và 4 số cuối.",
    "Người đã có (cùng CCCD, hoặc cùng họ tên và năm sinh trong hộ) được cập nhật, không tạo "
    "trùng. Ô để trống: giữ nguyên dữ liệu đã có.",
    "Dịch vụ số: VNeID (Chưa có, Đã đăng ký, Mức 1, Mức 2); Chữ ký số (Chưa có, Đã cấp); Tài "
    "khoản thanh toán (Chưa có, Đã mở); Dịch vụ công trực tuyến (Chưa có, Có tài khoản, Đã nộp "
    "hồ sơ); Ứng dụng của tỉnh (Chưa cài, Đã cài đặt, Đăng nhập bằng VNeID); Kỹ năng số (Chưa "
    "học, Đã hoàn thành); An sinh qua tài khoản (Chưa, Nhận qua tài khoản).",
    "Ngày ghi nhận: ngày các trạng thái trên được ghi nhận (dd/mm/yyyy); để trống là hôm nay. "
    "Trạng thái thấp hơn trạng thái đã lưu không được ghi đè.",
    "Tải tệp lên sẽ xem trước; chỉ khi không còn lỗi mới ghi được, và ghi tất cả hoặc không gì.",
)


def template() -> bytes:
    """The .xlsx officials fill in, with a sheet of instructions."""
    choices: dict[str, Sequence[str]] = {
        "sex": list(SEX_VALUES.values()),
        "relation": list(RELATION_VALUES.values()),
        "smartphone": [YES, NO],
        "welfare": [YES, NO],
    }
    for service, values in STATE_VALUES.items():
        choices[f"state_{service}"] = list(values.values())
    return template_workbook([TemplateSheet(SHEET, COLUMNS, choices)], GUIDE)


# --- The result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class Change:
    row: int
    action: str  # create, update, move
    label: str


@dataclass
class ImportResult:
    commune: AdminUnit
    applied: bool = False
    rows: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    error_count: int = 0
    warnings: list[RowProblem] = field(default_factory=list)
    warning_count: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, row: int, key: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowProblem(row, HEADERS.get(key, ""), message))

    def warn(self, row: int, key: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_ERRORS:
            self.warnings.append(RowProblem(row, HEADERS.get(key, ""), message))


# --- Staging --------------------------------------------------------------------------------

ROWS = "cnsc_import_rows"
HOUSEHOLDS = "cnsc_import_households"
STATES_TABLE = "cnsc_import_states"
TOUCHED = "cnsc_import_touched"
PLACED = "cnsc_import_placed"

STATE_COLUMNS = tuple(f"st_{service}" for service in STATES)
# What Python writes for each row, in order. NULL in an optional column means "not given".
STAGED: tuple[tuple[str, str], ...] = (
    ("row_no", "integer"),
    ("hh_key", "text"),
    ("hh_code", "text"),
    ("hh_new_code", "text"),
    ("hamlet_id", "bigint"),
    ("hamlet_team_id", "bigint"),
    ("house_number", "text"),
    ("street", "text"),
    ("address_key", "text"),
    ("hh_phone", "text"),
    ("team_id", "bigint"),
    ("res_code", "text"),
    ("full_name", "text"),
    ("search_name", "text"),
    ("sex", "text"),
    ("birth_year", "integer"),
    ("relation", "text"),
    ("phone", "text"),
    ("cccd_hash", "text"),
    ("cccd_last4", "text"),
    ("cccd_key_id", "text"),
    ("smartphone", "boolean"),
    ("welfare", "boolean"),
    *((name, "text") for name in STATE_COLUMNS),
    ("states_on", "timestamp with time zone"),
)
# Filled by SQL while matching.
DERIVED = (
    ("household_id", "bigint"),
    ("resident_id", "bigint"),
    ("from_household_id", "bigint"),
    ("action", "text"),
)


class _Stage:
    """The temporary tables of one import, on the connection of the current transaction."""

    def __init__(self, *, old_hashes: int) -> None:
        self.postgres = connection.vendor == "postgresql"
        self.cursor = connection.cursor()
        # A CCCD hashed under an earlier key of the chain (not yet re-keyed) still matches.
        self.old_columns = [f"cccd_old{i}" for i in range(old_hashes)]
        self.staged = [name for name, _kind in STAGED] + self.old_columns
        # Whether any household or resident of the file is one already stored. When none is
        # (a commune's first list), the statements that compare with or change stored ones
        # would find nothing, and are not run: each would read a whole table for nothing.
        self.stored_households = True
        self.stored_residents = True

    def sql(self, query: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(query, params)

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(query, params)
        return self.cursor.fetchall()

    def value(self, query: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(query, params)
        row = self.cursor.fetchone()
        return row[0] if row else None

    def new_ids(self, model: Any, order: str) -> str:
        """An SQL expression giving each selected row a new primary key of ``model``'s table,
        taken in the order of ``order`` (a positive whole number unique to each row, which
        the selection must also be sorted by): the key is known before the row is written, so
        rows that point at each other are written once each."""
        table = model._meta.db_table
        if self.postgres:
            return f"nextval(pg_get_serial_sequence('{table}', 'id'))"
        # SQLite: one writer at a time, and keys above the highest ever used; gaps are harmless.
        base = self.value(
            f"""SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),
                   COALESCE((SELECT MAX(id) FROM {table}), 0))""",
            [table],
        )
        return f"({int(base)} + {order})"

    def time(self, moment: dt.datetime) -> Any:
        """A timestamp as the backend takes it as a parameter."""
        return connection.ops.adapt_datetimefield_value(moment)

    def create(self) -> None:
        if self.postgres:
            # The defaults (4 MB to sort or hash, 8 MB of buffers for temporary tables) send
            # a large file's staging tables to disk; these last until the transaction ends.
            self.sql("SET LOCAL work_mem = '64MB'")
            try:
                with transaction.atomic():
                    self.sql("SET LOCAL temp_buffers = '256MB'")
            except DataError:
                # A session that has used temporary tables at another size (a roster import
                # earlier on this pooled connection) keeps its buffers: slower, not wrong.
                pass
        self.drop()
        old = [(name, "text") for name in self.old_columns]
        columns = ", ".join(f"{name} {kind}" for name, kind in (*STAGED, *old, *DERIVED))
        self.sql(f"CREATE TEMPORARY TABLE {ROWS} ({columns})")

    def drop(self) -> None:
        for table in (ROWS, HOUSEHOLDS, STATES_TABLE, TOUCHED, PLACED):
            self.sql(f"DROP TABLE IF EXISTS {table}")

    @contextmanager
    def writer(
        self, table: str, columns: Sequence[str]
    ) -> Iterator[Callable[[Sequence[Any]], None]]:
        names = ", ".join(columns)
        if self.postgres:
            raw: Any = self.cursor.cursor
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                yield copy.write_row
            return
        buffer: list[Sequence[Any]] = []
        insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"

        def write(row: Sequence[Any]) -> None:
            buffer.append(row)
            if len(buffer) >= CHUNK:
                self.cursor.executemany(insert, buffer)
                buffer.clear()

        yield write
        if buffer:
            self.cursor.executemany(insert, buffer)

    def analyze(self, table: str, *columns: str) -> None:
        # Temporary tables have no statistics until asked: without them PostgreSQL misjudges
        # the joins below. Only the columns joined on: the others would cost as much again.
        if self.postgres:
            self.sql(f"ANALYZE {table} ({', '.join(columns)})" if columns else f"ANALYZE {table}")


# --- Reading the rows -----------------------------------------------------------------------


class _Lookups:
    """The commune's hamlets and teams, and the values already seen, for checking rows fast."""

    def __init__(self, commune: AdminUnit) -> None:
        self.commune = commune
        hamlets = list(Hamlet.objects.filter(commune=commune))
        self.hamlets: dict[str, Hamlet] = {}
        for hamlet in sorted(hamlets, key=lambda h: h.retired_on is None):
            # Active hamlets last, so they win over a retired one of the same name.
            self.hamlets[hamlet.search_name] = hamlet
            self.hamlets[hamlet.code.lower()] = hamlet
        self.teams = {team.code: team for team in Team.objects.filter(commune=commune)}
        by_hamlet: dict[int, list[Team]] = {}
        for team in self.teams.values():
            if (
                team.kind == TeamKind.HAMLET
                and team.hamlet_id
                and team.status != TeamStatus.DISSOLVED
            ):
                by_hamlet.setdefault(team.hamlet_id, []).append(team)
        # A new household is covered by its hamlet's team when the hamlet has exactly one.
        self.hamlet_team = {h: ts[0].pk for h, ts in by_hamlet.items() if len(ts) == 1}
        self.keys = SearchKeys()


def _masked(value: str) -> bool:
    """A value from a masked export: "0912***678", "********1234", "••••1234"."""
    return "*" in value or "•" in value


_MEMO_LIMIT = 200_000
# The position of each column in COLUMNS, for reading a row's cells as a tuple.
_AT = {c.key: i for i, c in enumerate(COLUMNS)}
_HOUSEHOLD_AT = tuple(
    _AT[key]
    for key in (
        "household_code",
        "hamlet",
        "house_number",
        "street",
        "household_phone",
        "team_code",
    )
)
_FIXED = ("relation", "sex", "smartphone", "welfare", "states_on")
_STATE_KEYS = tuple((service, f"state_{service}") for service in STATES)
_SETTLED_AT = tuple(_AT[key] for key in (*_FIXED, *(key for _s, key in _STATE_KEYS)))
_household_cells = itemgetter(*_HOUSEHOLD_AT)
_settled_cells = itemgetter(*_SETTLED_AT)


class _RowReader:
    """Checks one row at a time and turns it into a staging row; problems go to the result.

    Runs once per row of files of millions of rows: values that repeat (names, streets,
    relations, states, dates) are checked once and remembered, within a bounded memory."""

    def __init__(self, sheet: Sheet, lookups: _Lookups, result: ImportResult) -> None:
        positions = sheet.columns(COLUMNS)
        # A column missing from the file reads the empty cell appended to every row.
        indexes = [positions.get(c.key, -1) for c in COLUMNS]
        self.width = max(indexes) + 1
        self.cells = itemgetter(*indexes)
        self.lookups = lookups
        self.result = result
        self.phones = PhoneChecker()
        self.cccds = CccdChecker()
        self.keys = lookups.keys
        self.household_codes = random_codes(8)
        self.resident_codes = random_codes(10)
        self.today = timezone.localdate()
        self.this_year = self.today.year
        self.tz = timezone.get_current_timezone()
        self.no_old_hashes = [""] * (len(hash_keys()) - 1)
        # (index in result.errors, value) of the hamlets not found, while errors are kept.
        self.unknown_hamlets: list[tuple[int, str]] = []
        self._texts: dict[str, tuple[str, str]] = {}
        self._choices: dict[tuple[str, Any], tuple[Any, str | None]] = {}
        self._household_cells: tuple[Any, ...] = ()
        self._household: tuple[Any, ...] = ()
        self._settled: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def text(self, raw: str) -> tuple[str, str]:
        """``raw`` in NFC and its search key."""
        found = self._texts.get(raw)
        if found is None:
            if len(self._texts) >= _MEMO_LIMIT:
                self._texts.clear()
            value = nfc(raw)
            found = self._texts[raw] = (value, self.keys(value))
        return found

    def choice(self, key: str, raw: Any) -> tuple[Any, str | None]:
        """The value of a cell with fixed values, or the message why it is not one."""
        found = self._choices.get((key, raw))
        if found is None:
            if len(self._choices) >= _MEMO_LIMIT:
                self._choices.clear()
            found = self._choices[(key, raw)] = self._check_choice(key, raw)
        return found

    def _check_choice(self, key: str, raw: Any) -> tuple[Any, str | None]:
        word = self.keys(_plain(raw))
        if key == "sex":
            return _SEX.get(word), None if word in _SEX else _("Write Nam or Nữ.")
        if key == "relation":
            if word in _RELATION:
                return _RELATION[word], None
            return None, _("Unknown relation to the head: write one of %(values)s.") % {
                "values": ", ".join(RELATION_VALUES.values())
            }
        if key in ("smartphone", "welfare"):
            if word in _YES_NO:
                return _YES_NO[word], None
            return None, _("Write Có or Không.")
        if key == "states_on":
            return self._check_date(raw)
        service = key.removeprefix("state_")
        if word in _STATES[service]:
            return _STATES[service][word], None
        return None, _("Unknown state of %(service)s: write one of %(values)s.") % {
            "service": Service(service).label,
            "values": ", ".join(STATE_VALUES[service].values()),
        }

    def _check_date(self, raw: Any) -> tuple[Any, str | None]:
        try:
            day = parse_date(raw)
        except ValueError:
            return None, _("Write the date as dd/mm/yyyy.")
        if day > self.today:
            return None, _("The date cannot be in the future.")
        if day < EARLIEST_STATES:
            return None, _("The date is before the teams were founded (March 2022).")
        # Noon: the day stays the same in any time zone a report is read in.
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=self.tz)
        return connection.ops.adapt_datetimefield_value(moment), None

    def read(self, number: int, values: Sequence[Any]) -> tuple[Any, ...] | None:
        row = values if isinstance(values, list) else list(values)
        if len(row) < self.width:
            row.extend([None] * (self.width - len(row)))
        row.append(None)
        cells = [(v.strip() or None) if v.__class__ is str else _cell(v) for v in self.cells(row)]
        problems: list[tuple[str, str]] = []
        add = problems.append

        # The household: its cells repeat on each of its residents' rows, which follow each
        # other, so the previous row's answer serves while the cells are the same.
        household_cells = _household_cells(cells)
        if household_cells == self._household_cells:
            household = self._household
        else:
            household = self._read_household(household_cells, add)
            if problems:
                household_cells = ()
            self._household_cells, self._household = household_cells, household
        hh_key, code, hamlet_id, hamlet_team_id, house_number, street, address_key = household[:7]
        household_phone, team_id = household[7:]

        # The resident.
        full_name, name_key = self.text(_plain(cells[_AT["full_name"]]))
        if not full_name:
            add(("full_name", _("Enter the resident's full name.")))
        elif len(full_name) > 150:
            add(("full_name", _("The name is too long (at most 150 characters).")))
        settled_cells = _settled_cells(cells)
        settled = self._settled.get(settled_cells)
        if settled is None:
            if len(self._settled) >= _MEMO_LIMIT:
                self._settled.clear()
            settled = self._settled[settled_cells] = self._read_settled(settled_cells)
        fixed, fixed_problems, states, state_problems = settled
        problems += fixed_problems
        relation, sex, smartphone, welfare, states_on = fixed
        birth_year = self._year(cells[_AT["birth_year"]], add)
        phone = self._phone(cells[_AT["phone"]], "phone", add)
        cccd = None
        raw_cccd = cells[_AT["cccd"]]
        if raw_cccd is not None:
            # A CCCD typed into a number cell loses its leading zero; every province code has one.
            raw = f"{int(raw_cccd):012d}" if isinstance(raw_cccd, int | float) else raw_cccd
            if not _masked(raw):
                try:
                    cccd = self.cccds(raw, sex=sex, birth_year=birth_year)
                except ValidationError as exc:
                    add(("cccd", exc.messages[0]))
        problems += state_problems

        if problems:
            for key, message in problems:
                self.result.error(number, key, message)
            return None
        if cccd is None:
            hashed: tuple[Any, ...] = ("", "", "", *self.no_old_hashes)
        else:
            hashed = (cccd.hash, cccd.last4, cccd.key_id, *sorted(cccd.matches - {cccd.hash}))
        return (
            number,
            hh_key,
            code,
            next(self.household_codes),
            hamlet_id,
            hamlet_team_id,
            house_number,
            street,
            address_key,
            household_phone,
            team_id,
            next(self.resident_codes),
            full_name,
            name_key,
            sex,
            birth_year,
            relation,
            phone,
            *hashed[:3],
            smartphone,
            welfare,
            *states,
            states_on,
            *hashed[3:],
        )

    def _read_household(
        self, cells: tuple[Any, ...], add: Callable[[tuple[str, str]], None]
    ) -> tuple[Any, ...]:
        """The household's columns of a row, checked: (its key in the file, code, hamlet id,
        the hamlet's team, house number, street, address key, phone, team id)."""
        lookups = self.lookups
        raw_code, raw_hamlet, raw_house, raw_street, raw_phone, raw_team = cells
        code = raw_code or ""
        if code.__class__ is not str:
            code = _plain(code)
        if len(code) > 20:
            add(("household_code", _("The household code is too long (at most 20 characters).")))
        hamlet_raw = _plain(raw_hamlet)
        hamlet = None
        if not hamlet_raw:
            add(("hamlet", _("Give the hamlet or quarter.")))
        else:
            hamlet = lookups.hamlets.get(self.text(hamlet_raw)[1]) or lookups.hamlets.get(
                hamlet_raw.lower()
            )
            if hamlet is None:
                # Whether it is another commune's hamlet is asked after the rows are read (no
                # query can run while they are copied to the database).
                position = len(self.result.errors) + (1 if len(code) > 20 else 0)
                if position < MAX_ERRORS:
                    self.unknown_hamlets.append((position, hamlet_raw))
                add(
                    (
                        "hamlet",
                        _("No hamlet or quarter of %(commune)s has this name.")
                        % {"commune": lookups.commune.name},
                    )
                )
            elif hamlet.retired_on is not None:
                add(("hamlet", _("This hamlet has been retired.")))
        house_number, house_key = self.text(_plain(raw_house))
        street, street_key = self.text(_plain(raw_street))
        if len(house_number) > 40:
            add(("house_number", _("The house number is too long (at most 40 characters).")))
        if len(street) > 200:
            add(("street", _("The street is too long (at most 200 characters).")))
        address_key = (
            f"{house_key} {street_key}" if house_key and street_key else (house_key or street_key)
        )
        if not code and not address_key:
            add(("household_code", _("Give the household code, or the house number and street.")))
        household_phone = self._phone(raw_phone, "household_phone", add)
        team_id = None
        team_code = _plain(raw_team)
        if team_code:
            team = lookups.teams.get(team_code)
            if team is None:
                add(
                    (
                        "team_code",
                        _("No team of %(commune)s has this code.")
                        % {"commune": lookups.commune.name},
                    )
                )
            elif team.status == TeamStatus.DISSOLVED:
                add(("team_code", _("This team has been dissolved.")))
            else:
                team_id = team.pk
        if hamlet is None:
            return ("", code, None, None, house_number, street, address_key, None, None)
        return (
            f"c:{code}" if code else f"a:{hamlet.pk}:{address_key}",
            code,
            hamlet.pk,
            lookups.hamlet_team.get(hamlet.pk),
            house_number,
            street,
            address_key,
            household_phone,
            team_id,
        )

    def _read_settled(self, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        """The resident's cells with fixed values (relation, sex, smartphone, welfare, date of
        the states, the states): their values and problems, which depend on these cells alone
        (few combinations recur over a whole file)."""
        problems: list[tuple[str, str]] = []
        fixed: dict[str, Any] = {}
        for key, raw in zip(_FIXED, cells, strict=False):
            if raw is None:
                fixed[key] = None
                continue
            fixed[key], message = self.choice(key, raw)
            if message:
                problems.append((key, message))
        states: list[str] = []
        state_problems: list[tuple[str, str]] = []
        for (service, key), raw_state in zip(_STATE_KEYS, cells[len(_FIXED) :], strict=True):
            if raw_state is None:
                states.append("")
                continue
            state, message = self.choice(key, raw_state)
            if message:
                state_problems.append((key, message))
            elif (
                service == Service.WELFARE_ACCOUNT
                and state != State.NONE
                and fixed["welfare"] is False
            ):
                state_problems.append(
                    (key, _("Only social-welfare beneficiaries can be paid through an account."))
                )
            states.append(state or "")
        return (
            tuple(fixed[key] for key in _FIXED),
            tuple(problems),
            tuple(states),
            tuple(state_problems),
        )

    def _year(self, raw: Any, add: Callable[[tuple[str, str]], None]) -> int | None:
        if raw is None:
            return None
        try:
            year = int(raw)
        except (TypeError, ValueError):
            add(("birth_year", _("Write the year of birth with four digits, e.g. 1985.")))
            return None
        if not self.this_year - MAX_AGE <= year <= self.this_year:
            add(
                (
                    "birth_year",
                    _("The year of birth must be between %(min)d and %(max)d.")
                    % {"min": self.this_year - MAX_AGE, "max": self.this_year},
                )
            )
            return None
        return year

    def _phone(self, value: Any, key: str, add: Callable[[tuple[str, str]], None]) -> str | None:
        if value is None:
            return None
        if value.__class__ is str:
            raw = value
        elif isinstance(value, int | float):
            # A number cell drops the leading 0 of "0912 345 678".
            raw = "0" + _plain(value)
        else:
            raw = _plain(value)
        if _masked(raw):
            return None
        try:
            return self.phones(raw)
        except ValidationError as exc:
            add((key, exc.messages[0]))
            return None


def _cell(value: Any) -> Any:
    """A cell that is not text: numbers and dates as they are, anything else as text."""
    if value is None or isinstance(value, dt.date | int | float):
        return value
    return text(value) or None


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    return text(value)


def _household_sheet(sheets: list[Sheet]) -> Sheet:
    required = {header_key(c.header) for c in COLUMNS if c.required}
    for sheet in sheets:
        if required <= sheet.headers.keys():
            return sheet
    raise ImportFileError(
        _(
            "No household list was found. The first row must hold the column names of the "
            "template (at least: %(columns)s)."
        )
        % {"columns": ", ".join(c.header for c in COLUMNS if c.required)}
    )


def _load(sheet: Sheet, stage: _Stage, lookups: _Lookups, result: ImportResult) -> None:
    reader = _RowReader(sheet, lookups, result)
    with stage.writer(ROWS, stage.staged) as write:
        for number, values in sheet.rows:
            result.rows += 1
            row = reader.read(number, values)
            if row is not None:
                write(row)
    if result.rows == 0:
        raise ImportFileError(_("The file has column names but no rows."))
    _name_foreign_hamlets(reader, result)
    # PostgreSQL joins the staged rows by hashing; SQLite, which cannot, needs these two.
    for column in ("row_no", "hh_key"):
        stage.sql(f"CREATE INDEX {ROWS}_{column} ON {ROWS} ({column})")
    stage.analyze(ROWS, "row_no", "hh_key", "hh_code", "cccd_hash", "search_name", "birth_year")


def _name_foreign_hamlets(reader: _RowReader, result: ImportResult) -> None:
    """Tell apart, among the hamlets not found, the codes of another commune's hamlets (names
    repeat across communes, codes do not)."""
    shown = [(i, value) for i, value in reader.unknown_hamlets if i < len(result.errors)]
    if not shown:
        return
    foreign = set(
        Hamlet.objects.filter(code__in={value.upper() for _i, value in shown})
        .exclude(commune=reader.lookups.commune)
        .values_list("code", flat=True)
    )
    for i, value in shown:
        if value.upper() in foreign:
            error = result.errors[i]
            result.errors[i] = RowProblem(
                error.row, error.column, _("This hamlet belongs to another commune.")
            )


# --- Checking the rows against each other and the database ----------------------------------


def _report(
    stage: _Stage,
    result: ImportResult,
    query: str,
    params: Sequence[Any],
    key: str | Callable[[tuple[Any, ...]], str],
    message: Callable[[tuple[Any, ...]], str],
    *,
    warning: bool = False,
) -> None:
    """A problem for each row ``query`` returns (its row number first). Only the problems shown
    are fetched; the others are counted."""
    shown = len(result.warnings if warning else result.errors)
    total = stage.value(f"SELECT COUNT(*) FROM ({query}) problems", params)
    if not total:
        return
    room = max(0, MAX_ERRORS - shown)
    found = stage.rows(f"{query} ORDER BY 1 LIMIT {room}", params) if room else []
    for row in found:
        column = key(row) if callable(key) else key
        (result.warn if warning else result.error)(row[0], column, message(row))
    if warning:
        result.warning_count += total - len(found)
    else:
        result.error_count += total - len(found)


def _on_row(template: str) -> Callable[[tuple[Any, ...]], str]:
    return lambda row: template % {"row": row[1]}


def _check_rows(stage: _Stage, result: ImportResult) -> None:
    """Problems between rows of the file: the same person twice, two heads of one household,
    rows of one household that disagree on where it is."""
    stage.sql(
        f"""CREATE TEMPORARY TABLE {HOUSEHOLDS} AS
        SELECT s.hh_key, s.row_no AS first_row, s.hh_code, s.hh_new_code, s.hamlet_id,
               s.hamlet_team_id, s.house_number, s.street, s.address_key
        FROM {ROWS} s
        WHERE s.row_no IN (SELECT MIN(row_no) FROM {ROWS} GROUP BY hh_key)"""
    )
    for name, kind in (
        ("phone", "text"),
        ("team_id", "bigint"),
        ("code", "text"),
        ("household_id", "bigint"),
        ("action", "text"),
    ):
        stage.sql(f"ALTER TABLE {HOUSEHOLDS} ADD COLUMN {name} {kind}")
    stage.sql(f"CREATE INDEX {HOUSEHOLDS}_key ON {HOUSEHOLDS} (hh_key)")
    stage.sql(
        f"""UPDATE {HOUSEHOLDS} SET phone = x.phone, team_id = x.team_id,
               code = CASE WHEN {HOUSEHOLDS}.hh_code <> '' THEN {HOUSEHOLDS}.hh_code
                           ELSE {HOUSEHOLDS}.hh_new_code END
        FROM (SELECT hh_key, MIN(hh_phone) AS phone, MIN(team_id) AS team_id
              FROM {ROWS} GROUP BY hh_key) x
        WHERE x.hh_key = {HOUSEHOLDS}.hh_key"""
    )
    stage.analyze(HOUSEHOLDS)
    _report(
        stage,
        result,
        f"""SELECT s.row_no, h.first_row FROM {ROWS} s JOIN {HOUSEHOLDS} h ON h.hh_key = s.hh_key
        WHERE s.row_no <> h.first_row
          AND (s.hamlet_id <> h.hamlet_id OR s.address_key <> h.address_key)""",
        (),
        "hamlet",
        _on_row(_("Row %(row)d gives this household another hamlet or address.")),
    )
    for column, key, message in (
        ("hh_phone", "household_phone", _("Row %(row)d gives this household another phone.")),
        ("team_id", "team_code", _("Row %(row)d gives this household another team.")),
    ):
        _report(
            stage,
            result,
            f"""SELECT s.row_no, f.first_row FROM {ROWS} s
            JOIN (SELECT hh_key, MIN(row_no) AS first_row, MIN({column}) AS value FROM {ROWS}
                  WHERE {column} IS NOT NULL GROUP BY hh_key
                  HAVING COUNT(DISTINCT {column}) > 1) f ON f.hh_key = s.hh_key
            WHERE s.{column} IS NOT NULL AND s.{column} <> f.value""",
            (),
            key,
            _on_row(message),
        )
    _report(
        stage,
        result,
        f"""SELECT s.row_no, f.first_row FROM {ROWS} s
        JOIN (SELECT hh_key, MIN(row_no) AS first_row FROM {ROWS} WHERE relation = 'head'
              GROUP BY hh_key HAVING COUNT(*) > 1) f ON f.hh_key = s.hh_key
        WHERE s.relation = 'head' AND s.row_no <> f.first_row""",
        (),
        "relation",
        _on_row(_("Row %(row)d already names the head of this household.")),
    )
    _report(
        stage,
        result,
        f"""SELECT s.row_no, f.first_row FROM {ROWS} s
        JOIN (SELECT cccd_hash, MIN(row_no) AS first_row FROM {ROWS} WHERE cccd_hash <> ''
              GROUP BY cccd_hash HAVING COUNT(*) > 1) f ON f.cccd_hash = s.cccd_hash
        WHERE s.row_no <> f.first_row""",
        (),
        "cccd",
        _on_row(_("The same CCCD is already on row %(row)d.")),
    )
    _report(
        stage,
        result,
        f"""SELECT s.row_no, f.first_row FROM {ROWS} s
        JOIN (SELECT hh_key, search_name, COALESCE(birth_year, 0) AS year,
                     MIN(row_no) AS first_row
              FROM {ROWS} GROUP BY hh_key, search_name, COALESCE(birth_year, 0)
              HAVING COUNT(*) > 1) f
          ON f.hh_key = s.hh_key AND f.search_name = s.search_name
         AND f.year = COALESCE(s.birth_year, 0)
        JOIN {ROWS} o ON o.row_no = f.first_row
        WHERE s.row_no <> f.first_row AND (s.cccd_hash = '' OR o.cccd_hash = '')""",
        (),
        "full_name",
        _on_row(_("This person is already on row %(row)d, in the same household.")),
    )


def _match_households(stage: _Stage, result: ImportResult, commune: AdminUnit) -> None:
    """Each household of the file: an existing one of the commune (by code, or by address when
    the file gives no code) or a new one, and whether it changes."""
    h = HOUSEHOLDS
    stage.sql(
        f"""UPDATE {h} SET household_id = hh.id FROM outreach_household hh
        WHERE hh.commune_id = %s AND hh.code = {h}.hh_code AND {h}.hh_code <> ''""",
        [commune.pk],
    )
    at_address = """SELECT hamlet_id, address_key, MIN(id) AS id, COUNT(*) AS n
        FROM outreach_household WHERE commune_id = %s AND address_key <> ''
        GROUP BY hamlet_id, address_key"""
    stage.sql(
        f"""UPDATE {h} SET household_id = m.id FROM ({at_address}) m
        WHERE {h}.hh_code = '' AND m.n = 1 AND m.hamlet_id = {h}.hamlet_id
          AND m.address_key = {h}.address_key""",
        [commune.pk],
    )
    _report(
        stage,
        result,
        f"""SELECT x.first_row FROM {h} x JOIN ({at_address}) m
          ON m.hamlet_id = x.hamlet_id AND m.address_key = x.address_key
        WHERE x.hh_code = '' AND m.n > 1""",
        [commune.pk],
        "household_code",
        lambda row: _(
            "Several households of this hamlet are at this address: give the household code "
            "(it is in the export)."
        ),
    )
    stage.stored_households = bool(
        stage.value(f"SELECT COUNT(*) FROM {h} WHERE household_id IS NOT NULL")
    )
    stage.sql(f"UPDATE {h} SET action = 'create' WHERE household_id IS NULL")
    if not stage.stored_households:
        return
    # A household found by its address keeps its code.
    stage.sql(
        f"""UPDATE {h} SET code = hh.code FROM outreach_household hh
        WHERE hh.id = {h}.household_id AND {h}.hh_code = ''"""
    )
    stage.sql(
        f"""UPDATE {h} SET action = CASE
            WHEN hh.code <> {h}.code OR hh.hamlet_id <> {h}.hamlet_id
              OR hh.house_number <> {h}.house_number OR hh.street <> {h}.street
              OR ({h}.phone IS NOT NULL AND {h}.phone <> hh.phone)
              OR ({h}.team_id IS NOT NULL AND {h}.team_id IS DISTINCT FROM hh.team_id)
            THEN 'update' ELSE 'unchanged' END
        FROM outreach_household hh WHERE hh.id = {h}.household_id"""
    )
    stage.sql(
        f"""UPDATE {ROWS} SET household_id = x.household_id FROM {h} x
        WHERE x.hh_key = {ROWS}.hh_key AND x.household_id IS NOT NULL"""
    )


# Whether a matched resident's stored data differs from the row (an empty cell keeps it).
_RESIDENT_CHANGED = f"""r.full_name <> {ROWS}.full_name
    OR ({ROWS}.sex IS NOT NULL AND {ROWS}.sex <> r.sex)
    OR ({ROWS}.birth_year IS NOT NULL AND {ROWS}.birth_year IS DISTINCT FROM r.birth_year)
    OR ({ROWS}.relation IS NOT NULL AND {ROWS}.relation <> r.relation_to_head)
    OR ({ROWS}.phone IS NOT NULL AND {ROWS}.phone <> r.phone)
    OR ({ROWS}.cccd_hash <> '' AND {ROWS}.cccd_hash <> r.cccd_hash)
    OR ({ROWS}.smartphone IS NOT NULL AND {ROWS}.smartphone IS DISTINCT FROM r.owns_smartphone)
    OR ({ROWS}.welfare IS NOT NULL AND {ROWS}.welfare <> r.welfare_beneficiary)"""


def _match_residents(
    stage: _Stage, result: ImportResult, commune: AdminUnit, visible: list[int] | None
) -> None:
    """Each row: an existing resident (by CCCD anywhere, else by name and year of birth in the
    household), maybe moving in from another household, or a new one."""
    for column in ("cccd_hash", *stage.old_columns):
        stage.sql(
            f"""UPDATE {ROWS} SET resident_id = r.id, from_household_id = r.household_id
            FROM outreach_resident r
            WHERE {ROWS}.resident_id IS NULL AND {ROWS}.{column} <> ''
              AND r.cccd_hash = {ROWS}.{column} AND r.cccd_hash <> ''"""
        )
    if stage.stored_households:
        by_name = f"""SELECT household_id, search_name, COALESCE(birth_year, 0) AS year,
                   MIN(id) AS id, MAX(cccd_hash) AS cccd_hash, COUNT(*) AS n
            FROM outreach_resident
            WHERE erased_at IS NULL AND household_id IN
                  (SELECT household_id FROM {HOUSEHOLDS} WHERE household_id IS NOT NULL)
            GROUP BY household_id, search_name, COALESCE(birth_year, 0)"""
        stage.sql(
            f"""UPDATE {ROWS} SET resident_id = m.id, from_household_id = m.household_id
            FROM ({by_name}) m
            WHERE {ROWS}.resident_id IS NULL AND m.household_id = {ROWS}.household_id
              AND m.search_name = {ROWS}.search_name AND m.year = COALESCE({ROWS}.birth_year, 0)
              AND m.n = 1 AND (m.cccd_hash = '' OR {ROWS}.cccd_hash = '')"""
        )
        _report(
            stage,
            result,
            f"""SELECT s.row_no FROM {ROWS} s JOIN ({by_name}) m
              ON m.household_id = s.household_id AND m.search_name = s.search_name
             AND m.year = COALESCE(s.birth_year, 0)
            WHERE s.resident_id IS NULL AND s.cccd_hash = '' AND m.n > 1""",
            (),
            "full_name",
            lambda row: _(
                "Several residents of this household have this name and year of birth: give the "
                "CCCD to tell them apart."
            ),
        )
    stage.stored_residents = bool(
        stage.value(f"SELECT COUNT(*) FROM {ROWS} WHERE resident_id IS NOT NULL")
    )
    if stage.stored_residents:
        _report(
            stage,
            result,
            f"""SELECT s.row_no, f.first_row FROM {ROWS} s
            JOIN (SELECT resident_id, MIN(row_no) AS first_row FROM {ROWS}
                  WHERE resident_id IS NOT NULL GROUP BY resident_id HAVING COUNT(*) > 1) f
              ON f.resident_id = s.resident_id
            WHERE s.row_no <> f.first_row""",
            (),
            "full_name",
            _on_row(_("Row %(row)d already stands for this resident.")),
        )
        if visible is not None:
            inside = ", ".join(str(int(pk)) for pk in visible) or "0"
            _report(
                stage,
                result,
                f"""SELECT s.row_no FROM {ROWS} s JOIN outreach_household h
                  ON h.id = s.from_household_id
                WHERE h.commune_id <> %s AND h.commune_id NOT IN ({inside})""",
                [commune.pk],
                "cccd",
                lambda row: _(
                    "This person is registered in a commune you cannot see: ask that commune to "
                    "move them."
                ),
            )
    if stage.stored_households:
        _report(
            stage,
            result,
            f"""SELECT s.row_no FROM {ROWS} s JOIN outreach_household h ON h.id = s.household_id
            WHERE s.relation = 'head' AND h.head_id IS NOT NULL
              AND h.head_id IS DISTINCT FROM s.resident_id
              AND h.head_id NOT IN
                  (SELECT resident_id FROM {ROWS} WHERE resident_id IS NOT NULL)""",
            (),
            "relation",
            lambda row: _(
                "This household already has a head who is not in the file. Change the head's "
                "relation first."
            ),
        )
    if stage.stored_residents:
        # A row left without an action is a new resident: the rows are not rewritten to say so.
        stage.sql(
            f"""UPDATE {ROWS} SET action = CASE
                WHEN {ROWS}.household_id IS NULL OR {ROWS}.household_id <> r.household_id
                THEN 'move'
                WHEN {_RESIDENT_CHANGED} THEN 'update'
                ELSE 'unchanged' END
            FROM outreach_resident r WHERE r.id = {ROWS}.resident_id"""
        )


def _rank(column: str) -> str:
    cases = " ".join(f"WHEN '{state}' THEN {rank}" for state, rank in _RANK.items())
    return f"(CASE {column} {cases} END)"


# A state of the file ahead of the stored one (none when there is no row).
_FORWARD = f"{_rank('state')} > {_rank('COALESCE(from_state, ' + repr('none') + ')')}"

_STATE_LABELS = {
    (service, state): label
    for service, values in STATE_VALUES.items()
    for state, label in values.items()
}


def _check_states(stage: _Stage, result: ImportResult) -> None:
    """The file's service states against the stored ones: which move forward (and will be
    recorded), which are behind (not applied: a warning)."""
    selects = " UNION ALL ".join(
        f"""SELECT row_no, resident_id, '{service}' AS service, st_{service} AS state,
                   states_on FROM {ROWS} WHERE st_{service} <> ''"""
        for service in STATES
    )
    stage.sql(f"CREATE TEMPORARY TABLE {STATES_TABLE} AS {selects}")
    stage.sql(f"ALTER TABLE {STATES_TABLE} ADD COLUMN from_state text")
    stage.sql(f"CREATE INDEX {STATES_TABLE}_resident ON {STATES_TABLE} (resident_id, service)")
    stage.analyze(STATES_TABLE)
    if stage.stored_residents:
        stage.sql(
            f"""UPDATE {STATES_TABLE} SET from_state = ss.state FROM outreach_servicestate ss
            WHERE ss.resident_id = {STATES_TABLE}.resident_id
              AND ss.service = {STATES_TABLE}.service"""
        )
    _report(
        stage,
        result,
        f"""SELECT row_no, service, state, from_state FROM {STATES_TABLE}
        WHERE {_rank("state")} < {_rank("COALESCE(from_state, 'none')")}""",
        (),
        lambda row: f"state_{row[1]}",
        lambda row: (
            _("%(service)s is already at “%(old)s”; the file's “%(new)s” was not applied.")
            % {
                "service": Service(row[1]).label,
                "old": _STATE_LABELS[(row[1], row[3])],
                "new": _STATE_LABELS[(row[1], row[2])],
            }
        ),
        warning=True,
    )
    _report(
        stage,
        result,
        f"""SELECT s.row_no FROM {STATES_TABLE} st JOIN {ROWS} s ON s.row_no = st.row_no
        LEFT JOIN outreach_resident r ON r.id = s.resident_id
        WHERE st.service = '{Service.WELFARE_ACCOUNT}' AND st.state <> 'none'
          AND NOT COALESCE(s.welfare, r.welfare_beneficiary, FALSE)""",
        (),
        f"state_{Service.WELFARE_ACCOUNT}",
        lambda row: _("Only social-welfare beneficiaries can be paid through an account."),
    )
    for service, count in stage.rows(
        f"""SELECT service, COUNT(*) FROM {STATES_TABLE}
        WHERE {_FORWARD} GROUP BY service"""
    ):
        result.counts[f"states_{service}"] = count
        result.counts["states"] += count


def _summarise(stage: _Stage, result: ImportResult) -> None:
    for action, count in stage.rows(f"SELECT action, COUNT(*) FROM {HOUSEHOLDS} GROUP BY action"):
        result.counts[f"households_{action}"] = count
    for action, count in stage.rows(
        f"SELECT COALESCE(action, 'create'), COUNT(*) FROM {ROWS} GROUP BY action"
    ):
        result.counts[f"residents_{action}"] = count
    hamlets = dict(Hamlet.objects.filter(commune=result.commune).values_list("pk", "name"))
    for row_no, action, name, house_number, street, hamlet_id in stage.rows(
        f"""SELECT row_no, COALESCE(action, 'create'), full_name, house_number, street, hamlet_id
        FROM {ROWS} WHERE action IS NULL OR action <> 'unchanged'
        ORDER BY row_no LIMIT {PREVIEW_ROWS}"""
    ):
        address = " ".join(p for p in (house_number, street) if p)
        place = ", ".join(p for p in (address, hamlets.get(hamlet_id, "")) if p)
        result.changes.append(Change(row_no, action, f"{name} — {place}"))


# --- Applying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Write:
    """What every row written by one import carries."""

    now: Any  # the moment, as the backend takes it
    user_id: int | None
    reason: str


def _fresh_codes(
    stage: _Stage, *, update: str, clash: str, params: Sequence[Any], length: int
) -> None:
    """New random codes for the rows whose code ``clash`` finds taken, by a stored row or by
    another row of the file. Random codes almost never clash; when they do, the import must not
    fail on a unique index."""
    codes = random_codes(length)
    for _attempt in range(10):
        taken = [row[0] for row in stage.rows(clash, params)]
        if not taken:
            return
        for key in taken:
            stage.sql(update, [next(codes), key])
    raise DatabaseError("could not draw unused codes")


def _history(stage: _Stage, model: Any, *, where: str, kind: str, write: _Write) -> None:
    """simple-history's rows for the rows of ``model`` that ``where`` selects (a condition on
    ``t``, the model's table): what save() would have written, in one statement."""
    history = model.history.model
    extra = {
        "history_date": write.now,
        "history_type": kind,
        "history_user_id": write.user_id,
        "history_change_reason": write.reason,
    }
    columns, values, params = [], [], []
    for f in history._meta.concrete_fields:
        if f.column == "history_id":
            continue
        columns.append(f.column)
        if f.column in extra:
            values.append("%s")
            params.append(extra[f.column])
        else:
            values.append(f"t.{f.column}")
    stage.sql(
        f"""INSERT INTO {history._meta.db_table} ({", ".join(columns)})
        SELECT {", ".join(values)} FROM {model._meta.db_table} t WHERE {where}""",
        params,
    )


def _place(stage: _Stage) -> None:
    """Each row's resident (a stored one, or the key of the new one) and household, read once
    and used by every step of the apply (rather than rewriting the staged rows)."""
    stage.sql(
        f"""CREATE TEMPORARY TABLE {PLACED} AS
        SELECT row_no, COALESCE(resident_id, {stage.new_ids(Resident, "row_no")}) AS resident_id,
               household_id, household_action, from_household_id, relation, action,
               full_name, search_name
        FROM (SELECT s.row_no, s.resident_id, h.household_id, h.action AS household_action,
                     s.from_household_id, s.relation, s.action, s.full_name, s.search_name
              FROM {ROWS} s JOIN {HOUSEHOLDS} h ON h.hh_key = s.hh_key
              ORDER BY s.row_no) o"""
    )
    stage.sql(f"CREATE INDEX {PLACED}_row ON {PLACED} (row_no)")
    stage.sql(f"CREATE INDEX {PLACED}_household ON {PLACED} (household_id)")
    stage.sql(f"CREATE INDEX {PLACED}_resident ON {PLACED} (resident_id)")
    stage.analyze(PLACED)


def _write_households(stage: _Stage, commune: AdminUnit, write: _Write) -> None:
    h = HOUSEHOLDS
    _fresh_codes(
        stage,
        update=f"UPDATE {h} SET code = %s WHERE hh_key = %s",
        clash=f"""SELECT x.hh_key FROM {h} x JOIN outreach_household hh
              ON hh.commune_id = %s AND hh.code = x.code
            WHERE x.action = 'create'
            UNION SELECT x.hh_key FROM {h} x
            JOIN (SELECT code FROM {h} GROUP BY code HAVING COUNT(*) > 1) d ON d.code = x.code
            WHERE x.hh_code = ''""",
        params=[commune.pk],
        length=8,
    )
    stage.sql(
        f"""UPDATE {h} SET household_id = n.id FROM (
            SELECT hh_key, {stage.new_ids(Household, "first_row")} AS id
            FROM (SELECT hh_key, first_row FROM {h} WHERE action = 'create'
                  ORDER BY first_row) o) n
        WHERE n.hh_key = {h}.hh_key"""
    )
    _place(stage)
    # A new household is written with its head and the search name that follows the head's
    # name (what Household.save() computes).
    stage.sql(
        f"""INSERT INTO outreach_household (id, code, commune_id, hamlet_id, house_number,
            street, address_key, latitude, longitude, phone, head_id, team_id,
            assigned_member_id, search_name, last_visited_at, created_at, updated_at)
        SELECT x.household_id, x.code, %s, x.hamlet_id, x.house_number, x.street,
            x.address_key, NULL, NULL, COALESCE(x.phone, ''), p.resident_id,
            COALESCE(x.team_id, x.hamlet_team_id), NULL,
            COALESCE(TRIM(p.search_name || ' ' || x.address_key), x.address_key), NULL, %s, %s
        FROM {h} x LEFT JOIN {PLACED} p ON p.household_id = x.household_id
          AND p.relation = 'head'
        WHERE x.action = 'create' ORDER BY x.first_row""",
        [commune.pk, write.now, write.now],
    )
    if not stage.stored_households:
        return
    stage.sql(
        f"""UPDATE outreach_household SET code = x.code, hamlet_id = x.hamlet_id,
            house_number = x.house_number, street = x.street, address_key = x.address_key,
            phone = COALESCE(x.phone, outreach_household.phone),
            team_id = COALESCE(x.team_id, outreach_household.team_id),
            assigned_member_id = CASE
                WHEN x.team_id IS NOT NULL
                 AND x.team_id IS DISTINCT FROM outreach_household.team_id
                THEN NULL ELSE outreach_household.assigned_member_id END,
            updated_at = %s
        FROM {h} x WHERE x.action = 'update' AND outreach_household.id = x.household_id""",
        [write.now],
    )


def _write_residents(stage: _Stage, write: _Write) -> None:
    _fresh_codes(
        stage,
        update=f"UPDATE {ROWS} SET res_code = %s WHERE row_no = %s",
        clash=f"""SELECT s.row_no FROM {ROWS} s JOIN outreach_resident r ON r.code = s.res_code
            WHERE s.action IS NULL
            UNION SELECT s.row_no FROM {ROWS} s
            JOIN (SELECT res_code FROM {ROWS} GROUP BY res_code HAVING COUNT(*) > 1) d
              ON d.res_code = s.res_code""",
        params=[],
        length=10,
    )
    stage.sql(
        f"""INSERT INTO outreach_resident (id, code, household_id, full_name, search_name, sex,
            birth_year, relation_to_head, phone, cccd_hash, cccd_last4, cccd_key_id,
            owns_smartphone, welfare_beneficiary, erased_at, created_at, updated_at)
        SELECT p.resident_id, s.res_code, p.household_id, s.full_name, s.search_name,
            COALESCE(s.sex, ''), s.birth_year, COALESCE(s.relation, %s), COALESCE(s.phone, ''),
            s.cccd_hash, s.cccd_last4, s.cccd_key_id, s.smartphone, COALESCE(s.welfare, FALSE),
            NULL, %s, %s
        FROM {ROWS} s JOIN {PLACED} p ON p.row_no = s.row_no
        WHERE s.action IS NULL ORDER BY s.row_no""",
        [Relation.OTHER, write.now, write.now],
    )
    # Existing households whose head leaves (moves away, is no longer named head), changes or
    # changes name: recorded in their change history. Collected before the changes.
    stage.sql(f"CREATE TEMPORARY TABLE {TOUCHED} (household_id bigint)")
    if stage.stored_residents:
        stage.sql(
            f"""INSERT INTO outreach_residentmove (resident_id, from_household_id,
                to_household_id, moved_at, by_id)
            SELECT resident_id, from_household_id, household_id, %s, %s FROM {PLACED}
            WHERE action = 'move'""",
            [write.now, write.user_id],
        )
        # A new resident is nobody's head yet.
        stage.sql(
            f"""INSERT INTO {TOUCHED} (household_id)
            SELECT hh.id FROM outreach_household hh
            JOIN {PLACED} p ON p.resident_id = hh.head_id AND p.action IS NOT NULL
            WHERE p.household_id <> hh.id OR (p.relation IS NOT NULL AND p.relation <> 'head')
               OR (p.action = 'update' AND p.full_name <> (
                   SELECT r.full_name FROM outreach_resident r WHERE r.id = p.resident_id))"""
        )
    if stage.stored_households:
        stage.sql(
            f"""INSERT INTO {TOUCHED} (household_id)
            SELECT p.household_id FROM {PLACED} p JOIN outreach_household hh
              ON hh.id = p.household_id
            WHERE p.relation = 'head' AND p.household_action <> 'create'
              AND hh.head_id IS DISTINCT FROM p.resident_id
            UNION
            SELECT household_id FROM {HOUSEHOLDS} WHERE action = 'update'
            EXCEPT
            SELECT household_id FROM {TOUCHED}"""
        )
    if stage.stored_residents:
        stage.sql(
            f"""UPDATE outreach_resident SET household_id = p.household_id,
                full_name = s.full_name, search_name = s.search_name,
                sex = COALESCE(s.sex, outreach_resident.sex),
                birth_year = COALESCE(s.birth_year, outreach_resident.birth_year),
                relation_to_head = COALESCE(s.relation, outreach_resident.relation_to_head),
                phone = COALESCE(s.phone, outreach_resident.phone),
                cccd_hash = CASE WHEN s.cccd_hash <> '' THEN s.cccd_hash
                            ELSE outreach_resident.cccd_hash END,
                cccd_last4 = CASE WHEN s.cccd_hash <> '' THEN s.cccd_last4
                             ELSE outreach_resident.cccd_last4 END,
                cccd_key_id = CASE WHEN s.cccd_hash <> '' THEN s.cccd_key_id
                              ELSE outreach_resident.cccd_key_id END,
                owns_smartphone = COALESCE(s.smartphone, outreach_resident.owns_smartphone),
                welfare_beneficiary = COALESCE(s.welfare, outreach_resident.welfare_beneficiary),
                updated_at = %s
            FROM {ROWS} s JOIN {PLACED} p ON p.row_no = s.row_no
            WHERE s.action IN ('update', 'move') AND outreach_resident.id = s.resident_id""",
            [write.now],
        )
        # The head follows the residents' relation to the head, and the household's search
        # name follows the head's name (what Household.save() computes).
        stage.sql(
            f"""UPDATE outreach_household SET head_id = NULL, updated_at = %s FROM {PLACED} p
            WHERE p.resident_id = outreach_household.head_id AND p.action IS NOT NULL
              AND (p.household_id <> outreach_household.id
                   OR (p.relation IS NOT NULL AND p.relation <> 'head'))""",
            [write.now],
        )
    if not stage.stored_households:
        # New households were written with their head (_write_households).
        return
    named = "TRIM(p.search_name || ' ' || outreach_household.address_key)"
    stage.sql(
        f"""UPDATE outreach_household SET head_id = p.resident_id, search_name = {named},
            updated_at = %s
        FROM {PLACED} p
        WHERE p.relation = 'head' AND p.household_action <> 'create'
          AND outreach_household.id = p.household_id
          AND (outreach_household.head_id IS DISTINCT FROM p.resident_id
               OR outreach_household.search_name <> {named})""",
        [write.now],
    )
    if stage.stored_households or stage.stored_residents:
        stage.sql(
            f"""UPDATE outreach_household SET search_name = TRIM(COALESCE(
                (SELECT r.search_name FROM outreach_resident r
                 WHERE r.id = outreach_household.head_id), '') || ' ' || address_key)
            WHERE id IN (SELECT household_id FROM {TOUCHED})"""
        )


def _write_history(stage: _Stage, write: _Write) -> None:
    _history(
        stage,
        Household,
        where=f"""t.id IN (SELECT household_id FROM {HOUSEHOLDS} WHERE action = 'create')""",
        kind="+",
        write=write,
    )
    if stage.stored_households or stage.stored_residents:
        _history(
            stage,
            Household,
            where=f"t.id IN (SELECT household_id FROM {TOUCHED})",
            kind="~",
            write=write,
        )
    _history(
        stage,
        Resident,
        where=f"t.id IN (SELECT resident_id FROM {PLACED} WHERE action IS NULL)",
        kind="+",
        write=write,
    )
    if stage.stored_residents:
        _history(
            stage,
            Resident,
            where=f"t.id IN (SELECT resident_id FROM {PLACED} WHERE action IN ('update', 'move'))",
            kind="~",
            write=write,
        )


def _write_states(stage: _Stage, write: _Write) -> None:
    changes = f"""{STATES_TABLE} st JOIN {PLACED} p ON p.row_no = st.row_no
        WHERE {_FORWARD}"""
    stage.sql(
        f"""INSERT INTO {ServiceEvent._meta.db_table} (resident_id, service, from_state,
            to_state, backward, happened_at, recorded_at, source, visit_id, member_id, user_id,
            details)
        SELECT p.resident_id, st.service, COALESCE(st.from_state, 'none'), st.state, FALSE,
            COALESCE(st.states_on, %s), %s, %s, NULL, NULL, %s, '{{}}'
        FROM {changes}""",
        [write.now, write.now, Source.IMPORT, write.user_id],
    )
    stage.sql(
        f"""INSERT INTO {ServiceState._meta.db_table} (resident_id, service, state, details,
            changed_at, last_result)
        SELECT p.resident_id, st.service, st.state, '{{}}', COALESCE(st.states_on, %s), ''
        FROM {changes}
        ON CONFLICT (resident_id, service) DO UPDATE SET state = excluded.state,
            details = excluded.details, changed_at = excluded.changed_at""",
        [write.now],
    )


def _apply(stage: _Stage, commune: AdminUnit, write: _Write) -> None:
    _write_households(stage, commune, write)
    _write_residents(stage, write)
    _write_history(stage, write)
    _write_states(stage, write)


# --- The whole import -----------------------------------------------------------------------


def import_households(
    *,
    upload: IO[bytes],
    size: int,
    commune: AdminUnit,
    user: Viewer | None,
    apply: bool,
    file_name: str = "",
) -> ImportResult:
    """Read and check the household list, and (when ``apply`` and nothing is wrong) write it,
    in one transaction: any error anywhere and nothing is written. ImportFileError when the file
    as a whole cannot be read. Every run is recorded in the audit log (how, never what).

    ``user`` None is the system itself (a management command such as seed_demo): no scope
    applies. Views always pass the request's user, signed in or not."""
    scope = EVERYTHING if user is None else scope_for(user)
    if not scope.everything and not scope.commune_ids().filter(id=commune.pk).exists():
        raise PermissionDenied
    visible = None if scope.everything else list(scope.commune_ids().values_list("id", flat=True))
    result = ImportResult(commune=commune)
    file_error: ImportFileError | None = None
    now = timezone.now()
    with transaction.atomic():
        if apply:
            # One import per commune at a time: two would both create the same new households.
            AdminUnit.objects.select_for_update().filter(pk=commune.pk).first()
        try:
            with transaction.atomic():
                _run(
                    upload,
                    size,
                    commune,
                    user,
                    visible,
                    result,
                    apply=apply,
                    now=now,
                    file_name=file_name,
                )
        except ImportFileError as exc:
            file_error = exc
        except IntegrityError:
            # Someone registered the same household or person while the file was read.
            file_error = ImportFileError(
                _("The data changed while the file was imported; nothing was written. Try again.")
            )
        audit_record(
            user=user,
            action=AuditAction.IMPORT,
            target="outreach.household",
            detail={
                "commune": commune.code,
                "file": file_name[:100],
                "dry_run": not result.applied,
                "errors": result.error_count,
                **({"file_error": True} if file_error else {}),
                **{k: v for k, v in sorted(result.counts.items()) if v},
            },
            rows=result.rows,
        )
    if file_error is not None:
        raise file_error
    return result


def _run(
    upload: IO[bytes],
    size: int,
    commune: AdminUnit,
    user: Viewer | None,
    visible: list[int] | None,
    result: ImportResult,
    *,
    apply: bool,
    now: dt.datetime,
    file_name: str,
) -> None:
    stage = _Stage(old_hashes=len(hash_keys()) - 1)
    stage.create()
    with open_sheets(upload, size=size, limit=settings.HOUSEHOLD_IMPORT_MAX_BYTES) as sheets:
        _load(_household_sheet(sheets), stage, _Lookups(commune), result)
    _check_rows(stage, result)
    _match_households(stage, result, commune)
    _match_residents(stage, result, commune, visible)
    _check_states(stage, result)
    _summarise(stage, result)
    if apply and result.ok:
        user_id = user.pk if user is not None and user.is_authenticated else None
        reason = f"Import {file_name}".strip()[:100]
        _apply(stage, commune, _Write(now=stage.time(now), user_id=user_id, reason=reason))
        result.applied = True
    result.errors.sort(key=lambda e: e.row)
    result.warnings.sort(key=lambda e: e.row)
    stage.drop()
