"""Importing a commune's household list from .xlsx and .csv: dry run, all-or-nothing apply,
re-import without duplicates, and a clear message for every kind of bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import translation
from openpyxl import Workbook, load_workbook

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.geo.models import Hamlet, HamletKind
from cnsc.outreach.catalogue import Service, State
from cnsc.outreach.imports import COLUMNS, SHEET, import_households, template
from cnsc.outreach.models import (
    Household,
    Resident,
    ResidentMove,
    ServiceEvent,
    ServiceState,
    Source,
)
from cnsc.outreach.tests.factories import CCCD_MAN_1960, CCCD_WOMAN_1990, make_head
from cnsc.team.models import TeamStatus
from cnsc.team.tests.factories import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    # Messages are compared with their English source text.
    with translation.override("en"):
        yield


HEADERS = [c.header for c in COLUMNS]
KEYS = [c.key for c in COLUMNS]


def row(**values):
    """A row of the template by column key, with a household of Khu phố 1 by default."""
    base = {
        "household_code": "HK001",
        "hamlet": "Khu phố 1",
        "house_number": "12",
        "street": "Đường Yersin",
        "full_name": "Nguyễn Văn Tư",
        "relation": "Chủ hộ",
        "sex": "Nam",
        "birth_year": 1960,
    }
    base.update(values)
    return [base.get(key) for key in KEYS]


def csv_file(rows, *, headers=HEADERS, bom=True, delimiter=",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    for values in rows:
        writer.writerow(["" if v is None else v for v in values])
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def xlsx_file(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(HEADERS)
    for values in rows:
        ws.append(values)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run(data: bytes, commune, user, *, apply=False):
    return import_households(
        upload=io.BytesIO(data),
        size=len(data),
        commune=commune,
        user=user,
        apply=apply,
        file_name="ho-gia-dinh.csv",
    )


def problems(result):
    return [(e.row, e.column, e.message) for e in result.errors]


def family():
    """A household of three: the head with a CCCD, his wife with a CCCD and a phone, a child."""
    return [
        row(cccd=CCCD_MAN_1960, phone="0912 345 678", smartphone="Có"),
        row(
            full_name="Trần Thị Bích",
            relation="Vợ/Chồng",
            sex="Nữ",
            birth_year=1990,
            cccd=CCCD_WOMAN_1990,
            phone="+84 987 654 321",
            **{f"state_{Service.VNEID}": "Mức 2", f"state_{Service.PAYMENT}": "Đã mở"},
        ),
        row(full_name="Nguyễn Minh Khang", relation="Con", birth_year=2015, sex="Nam"),
    ]


def test_the_template_has_vietnamese_headers_and_a_guide(hamlet, official):
    wb = load_workbook(io.BytesIO(template()))
    assert wb.sheetnames == [SHEET, "Hướng dẫn"]
    headers = [c.value for c in wb[SHEET][1]]
    assert headers == HEADERS
    assert "Họ và tên" in headers
    assert "Thôn/Khu phố" in headers


def test_a_dry_run_says_what_would_happen_and_writes_nothing(hamlet, team, official):
    result = run(csv_file(family()), hamlet.commune, official)
    assert result.ok, problems(result)
    assert not result.applied
    assert result.counts["households_create"] == 1
    assert result.counts["residents_create"] == 3
    assert result.counts["states"] == 2
    assert [c.action for c in result.changes] == ["create"] * 3
    assert not Household.objects.exists()
    assert not Resident.objects.exists()
    assert not ServiceEvent.objects.exists()
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.IMPORT
    assert event.detail["dry_run"] is True
    assert event.rows == 3


def test_apply_writes_households_residents_states_and_history(hamlet, team, official):
    result = run(csv_file(family()), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert result.applied
    household = Household.objects.get()
    assert household.code == "HK001"
    assert household.hamlet == hamlet
    assert household.team == team  # the hamlet's only team covers it
    assert household.address_key == "12 duong yersin"
    head = Resident.objects.get(full_name="Nguyễn Văn Tư")
    assert household.head == head
    assert household.search_name == "nguyen van tu 12 duong yersin"
    assert head.phone == "+84912345678"
    assert head.cccd_last4 == CCCD_MAN_1960[-4:]
    assert head.owns_smartphone is True
    wife = Resident.objects.get(full_name="Trần Thị Bích")
    assert wife.relation_to_head == "spouse"
    assert wife.phone == "+84987654321"
    states = {(s.resident.full_name, s.service): s.state for s in ServiceState.objects.all()}
    assert states == {
        ("Trần Thị Bích", Service.VNEID): State.LEVEL2,
        ("Trần Thị Bích", Service.PAYMENT): State.OPENED,
    }
    events = ServiceEvent.objects.filter(source=Source.IMPORT)
    assert events.count() == 2
    assert {e.user for e in events} == {official}
    assert all(e.from_state == State.NONE for e in events)
    assert household.history.count() == 1
    assert head.history.get().history_user == official
    assert AuditEvent.objects.get().detail["dry_run"] is False


def test_xlsx_and_csv_import_alike(hamlet, team, official):
    run(xlsx_file(family()), hamlet.commune, official, apply=True)
    again = run(csv_file(family(), delimiter=";", bom=False), hamlet.commune, official)
    assert again.ok, problems(again)
    assert again.counts["residents_unchanged"] == 3
    assert again.counts["households_unchanged"] == 1


def test_importing_the_same_file_again_changes_nothing(hamlet, team, official):
    data = csv_file(family())
    run(data, hamlet.commune, official, apply=True)
    counts = (Household.objects.count(), Resident.objects.count(), ServiceEvent.objects.count())
    second = run(data, hamlet.commune, official, apply=True)
    assert second.ok, problems(second)
    assert second.counts["residents_unchanged"] == 3
    assert second.counts["states"] == 0
    assert not second.changes
    assert (
        Household.objects.count(),
        Resident.objects.count(),
        ServiceEvent.objects.count(),
    ) == counts
    assert Resident.objects.get(full_name="Nguyễn Văn Tư").history.count() == 1


def test_a_reimport_updates_by_cccd_and_by_name_and_moves_forward(hamlet, team, official):
    run(csv_file(family()), hamlet.commune, official, apply=True)
    changed = family()
    changed[0] = row(cccd=CCCD_MAN_1960, full_name="Nguyễn Văn Tư", phone="0903 111 222")
    changed[2] = row(
        full_name="Nguyễn Minh Khang",
        relation="Con",
        birth_year=2015,
        sex="Nam",
        **{f"state_{Service.DIGITAL_SKILLS}": "Đã hoàn thành"},
    )
    result = run(csv_file(changed), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert result.counts["residents_update"] == 1
    assert result.counts["residents_unchanged"] == 2
    assert result.counts["states"] == 1
    assert Resident.objects.count() == 3
    assert Resident.objects.get(full_name="Nguyễn Văn Tư").phone == "+84903111222"
    child = Resident.objects.get(full_name="Nguyễn Minh Khang")
    assert child.service_states.get().state == State.COMPLETED


def test_households_without_a_code_are_found_by_their_address(hamlet, team, official):
    rows = [row(household_code=None, house_number="12", street="Đường Yersin")]
    run(csv_file(rows), hamlet.commune, official, apply=True)
    generated = Household.objects.get().code
    assert len(generated) == 8
    spelled_otherwise = [row(household_code=None, house_number=" 12 ", street="duong  YERSIN")]
    result = run(csv_file(spelled_otherwise), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert result.counts["households_create"] == 0
    assert Household.objects.get().code == generated


def test_a_state_behind_the_stored_one_is_kept_and_the_preview_says_so(hamlet, team, official):
    run(csv_file(family()), hamlet.commune, official, apply=True)
    older = family()
    older[1][KEYS.index(f"state_{Service.VNEID}")] = "Mức 1"
    result = run(csv_file(older), hamlet.commune, official, apply=True)
    assert result.ok
    assert result.warning_count == 1
    assert (result.warnings[0].row, result.warnings[0].column) == (3, "VNeID")
    assert "Mức 2" in result.warnings[0].message
    wife = Resident.objects.get(full_name="Trần Thị Bích")
    assert wife.service_states.get(service=Service.VNEID).state == State.LEVEL2


def test_a_resident_found_by_cccd_in_another_household_moves(hamlet, team, official):
    run(csv_file(family()), hamlet.commune, official, apply=True)
    old = Household.objects.get()
    moved = [
        row(
            household_code="HK002",
            house_number="40",
            full_name="Trần Thị Bích",
            relation="Chủ hộ",
            sex="Nữ",
            birth_year=1990,
            cccd=CCCD_WOMAN_1990,
        )
    ]
    result = run(csv_file(moved), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert result.counts["residents_move"] == 1
    wife = Resident.objects.get(full_name="Trần Thị Bích")
    assert wife.household.code == "HK002"
    assert wife.household.head == wife
    move = ResidentMove.objects.get()
    assert (move.from_household, move.to_household, move.by) == (old, wife.household, official)
    # Her services went with her.
    assert wife.service_states.count() == 2


def test_the_new_head_of_a_household_that_lost_its_head(hamlet, team, official):
    run(csv_file(family()), hamlet.commune, official, apply=True)
    rows = family()
    rows[0][KEYS.index("relation")] = "Bố/Mẹ"
    rows[1][KEYS.index("relation")] = "Chủ hộ"
    result = run(csv_file(rows), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    household = Household.objects.get()
    assert household.head.full_name == "Trần Thị Bích"
    assert household.search_name.startswith("tran thi bich")


def test_one_bad_row_and_nothing_is_written(hamlet, team, official):
    rows = [*family(), row(full_name="Lê Văn Sai", birth_year=1970, phone="123")]
    result = run(csv_file(rows), hamlet.commune, official, apply=True)
    assert not result.ok
    assert not result.applied
    assert [(e.row, e.column) for e in result.errors] == [(5, "Số điện thoại")]
    assert not Household.objects.exists()
    assert not Resident.objects.exists()
    assert AuditEvent.objects.get().detail["errors"] == 1


BAD_ROWS = [
    ({"cccd": "07908501234"}, "Số CCCD", "12 digits"),
    ({"cccd": "079185012345"}, "Số CCCD", "sex"),
    ({"cccd": "999085012345"}, "Số CCCD", "province"),
    ({"hamlet": "Khu phố 99"}, "Thôn/Khu phố", "No hamlet"),
    ({"hamlet": None}, "Thôn/Khu phố", "hamlet"),
    ({"phone": "0123 456"}, "Số điện thoại", "phone"),
    ({"household_phone": "+1 202 555 0100"}, "Điện thoại của hộ", "Vietnamese"),
    ({"full_name": None}, "Họ và tên", "full name"),
    ({"sex": "X"}, "Giới tính", "Nam"),
    ({"birth_year": "năm 60"}, "Năm sinh", "four digits"),
    ({"birth_year": 1850}, "Năm sinh", "between"),
    ({"relation": "Hàng xóm"}, "Quan hệ với chủ hộ", "relation"),
    ({"smartphone": "có lẽ"}, "Có điện thoại thông minh", "Có"),
    ({f"state_{Service.VNEID}": "Mức 3"}, "VNeID", "Mức 2"),
    ({"team_code": "ZZ9"}, "Mã tổ CNSC", "No team"),
    ({"states_on": "31/02/2024"}, "Ngày ghi nhận", "dd/mm/yyyy"),
    ({"states_on": "01/01/2099"}, "Ngày ghi nhận", "future"),
    ({"household_code": None, "house_number": None, "street": None}, "Mã hộ", "house number"),
    (
        {"welfare": "Không", f"state_{Service.WELFARE_ACCOUNT}": "Nhận qua tài khoản"},
        "An sinh qua tài khoản",
        "beneficiaries",
    ),
]


@pytest.mark.parametrize(("values", "column", "fragment"), BAD_ROWS)
def test_each_bad_cell_gets_a_message_on_its_column(
    hamlet, team, official, values, column, fragment
):
    result = run(csv_file([row(**values)]), hamlet.commune, official, apply=True)
    assert [(e.row, e.column) for e in result.errors] == [(2, column)]
    assert fragment.lower() in result.errors[0].message.lower()
    assert not Resident.objects.exists()


def test_another_communes_hamlet_is_named_as_such(hamlet, other_hamlet, official):
    result = run(csv_file([row(hamlet=other_hamlet.code)]), hamlet.commune, official)
    assert problems(result) == [(2, "Thôn/Khu phố", "This hamlet belongs to another commune.")]


def test_a_retired_hamlet_takes_no_households(hamlet, official):
    hamlet.retired_on = dt.date(2025, 7, 1)
    hamlet.save()
    result = run(csv_file([row()]), hamlet.commune, official)
    assert problems(result) == [(2, "Thôn/Khu phố", "This hamlet has been retired.")]


def test_a_dissolved_team_takes_no_households(hamlet, team, official):
    team.status = TeamStatus.DISSOLVED
    team.save()
    result = run(csv_file([row(team_code="KP1")]), hamlet.commune, official)
    assert problems(result) == [(2, "Mã tổ CNSC", "This team has been dissolved.")]


def test_duplicates_in_the_file(hamlet, team, official):
    rows = [
        row(cccd=CCCD_MAN_1960),
        row(household_code="HK002", house_number="14", cccd=CCCD_MAN_1960, relation="Con"),
        row(full_name="Lê Thị Hồng", relation="Con", sex="Nữ", birth_year=2000),
        row(full_name="Lê  thị hồng", relation="Con", sex="Nữ", birth_year=2000),
        row(full_name="Phan Văn Hai", relation="Chủ hộ", birth_year=1961),
        row(house_number="99", full_name="Đỗ Văn Ba", relation="Con", birth_year=1999),
    ]
    result = run(csv_file(rows), hamlet.commune, official, apply=True)
    assert problems(result) == [
        (3, "Số CCCD", "The same CCCD is already on row 2."),
        (5, "Họ và tên", "This person is already on row 4, in the same household."),
        (6, "Quan hệ với chủ hộ", "Row 2 already names the head of this household."),
        (7, "Thôn/Khu phố", "Row 2 gives this household another hamlet or address."),
    ]
    assert not Resident.objects.exists()


def test_a_second_head_for_a_household_whose_head_is_not_in_the_file(hamlet, team, official):
    run(csv_file(family()[:1]), hamlet.commune, official, apply=True)
    other = [row(full_name="Võ Văn Năm", birth_year=1970)]
    result = run(csv_file(other), hamlet.commune, official)
    assert [(e.row, e.column) for e in result.errors] == [(2, "Quan hệ với chủ hộ")]
    assert "already has a head" in result.errors[0].message


def test_a_person_of_a_commune_the_user_cannot_see_is_not_touched(
    hamlet, other_hamlet, team, official
):
    other_team = make_team(other_hamlet, code="HN1")
    elsewhere = Household.objects.create(
        commune=other_hamlet.commune, hamlet=other_hamlet, code="HN-7", team=other_team
    )
    make_head(elsewhere, full_name="Nguyễn Văn Tư", birth_year=1960, cccd=CCCD_MAN_1960)
    result = run(csv_file([row(cccd=CCCD_MAN_1960)]), hamlet.commune, official, apply=True)
    assert [(e.row, e.column) for e in result.errors] == [(2, "Số CCCD")]
    assert "cannot see" in result.errors[0].message
    assert Resident.objects.get().household == elsewhere


def test_masked_values_from_an_export_keep_what_is_stored(hamlet, team, official):
    run(csv_file(family()[:1]), hamlet.commune, official, apply=True)
    masked = [row(cccd="********1222", phone="0912***678")]
    result = run(csv_file(masked), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    head = Resident.objects.get()
    assert head.phone == "+84912345678"
    assert head.cccd_last4 == "1222"


def test_numbers_typed_into_number_cells_keep_their_leading_zeros(hamlet, team, official):
    rows = [row(cccd=int(CCCD_MAN_1960), phone=912345678, birth_year=1960.0)]
    result = run(xlsx_file(rows), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    head = Resident.objects.get()
    assert head.phone == "+84912345678"
    assert head.cccd_last4 == CCCD_MAN_1960[-4:]


FILES = [
    (b"", "empty"),
    (b"%PDF-1.7 not a sheet\x00\x01", "not a spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    (b"PK\x03\x04 broken zip", "not a spreadsheet"),
    ("Tên;Tuổi\nAn;3\n".encode(), "No household list"),
    ("\ufeffThôn/Khu phố,Họ và tên\n".encode(), "no rows"),
    ("Thôn/Khu phố,Họ và tên\n".encode() + b"Khu ph\xf4 1,Nguy\xean V\xe3n T\xfa\n", "UTF-8"),
]


@pytest.mark.parametrize(("data", "fragment"), FILES)
def test_files_that_are_not_household_lists_get_a_clear_message(hamlet, official, data, fragment):
    from cnsc.core.spreadsheets import ImportFileError

    with pytest.raises(ImportFileError, match=fragment):
        run(data, hamlet.commune, official, apply=True)
    assert not Resident.objects.exists()


@override_settings(HOUSEHOLD_IMPORT_MAX_BYTES=1000)
def test_a_file_over_the_limit_is_refused_before_it_is_read(hamlet, official):
    from cnsc.core.spreadsheets import ImportFileError

    data = csv_file([row(full_name=f"Người {n}") for n in range(100)])
    with pytest.raises(ImportFileError, match="too large"):
        run(data, hamlet.commune, official)


def test_a_commune_the_user_cannot_see_is_refused(hamlet, outsider):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run(csv_file([row()]), hamlet.commune, outsider)


def test_no_full_cccd_anywhere_after_an_import(hamlet, team, official, caplog):
    caplog.set_level(logging.DEBUG)
    run(csv_file(family()), hamlet.commune, official, apply=True)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for values in cursor.fetchall():
                text = " ".join(str(v) for v in values)
                assert CCCD_MAN_1960 not in text, table
                assert CCCD_WOMAN_1990 not in text, table
    assert CCCD_MAN_1960 not in caplog.text


def test_the_number_of_queries_does_not_grow_with_the_rows(hamlet, team, official):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    def queries(count: int) -> int:
        rows = [
            row(household_code=f"Q{count}-{n // 3}", full_name=f"Người Số {n}", birth_year=1980)
            if n % 3 == 0
            else row(
                household_code=f"Q{count}-{n // 3}",
                full_name=f"Người Số {n}",
                relation="Con",
                birth_year=2000,
            )
            for n in range(count)
        ]
        with CaptureQueriesContext(conn) as captured:
            result = run(csv_file(rows), hamlet.commune, official, apply=True)
        assert result.ok, problems(result)
        return len(captured.captured_queries)

    queries(3)  # caches filled once per process (permissions, content types)
    assert queries(30) == queries(300)


def test_hamlets_are_found_without_diacritics_or_by_code(hamlet, team, official):
    second = Hamlet.objects.create(
        commune=hamlet.commune, name="Ấp Bàu Khai", kind=HamletKind.HAMLET
    )
    rows = [
        row(hamlet="khu pho 1"),
        row(household_code="HK002", hamlet="AP BAU KHAI", full_name="Lê Văn Bảy", birth_year=1970),
        row(household_code="HK003", hamlet=second.code, full_name="Lê Văn Tám", birth_year=1971),
    ]
    result = run(csv_file(rows), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert Household.objects.get(code="HK002").hamlet == second
    assert Household.objects.get(code="HK003").hamlet == second


@pytest.mark.django_db(transaction=True)
def test_an_import_on_a_connection_that_already_used_temporary_tables(hamlet, team, official):
    """A pooled connection that staged a roster import (temporary tables at PostgreSQL's default
    buffer size) then takes a household import: it runs, with the buffers it has."""
    connection.close()  # a session of its own, whatever earlier tests left in theirs
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE earlier_import (n int)")
        cursor.execute("INSERT INTO earlier_import VALUES (1)")
        cursor.execute("DROP TABLE earlier_import")
    result = run(csv_file(family()), hamlet.commune, official, apply=True)
    assert result.ok, problems(result)
    assert Resident.objects.count() == 3
