"""Importing rosters from .xlsx and .csv: dry run, all-or-nothing apply, idempotence, and a clear
message for every kind of bad input."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.test import override_settings
from django.utils import translation
from openpyxl import Workbook, load_workbook

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.geo.models import Hamlet, HamletKind
from cnsc.team.imports import (
    MEMBER_COLUMNS,
    MEMBER_SHEET,
    TEAM_COLUMNS,
    TEAM_SHEET,
    ImportFileError,
    import_roster,
    template_workbook,
)
from cnsc.team.models import Member, MemberRole, Membership, Team, TeamStatus
from cnsc.team.tests.factories import CCCD_MAN_1985, CCCD_WOMAN_2001, enrol, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted on their English source text; the Vietnamese catalogue changes."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


TEAM_HEADERS = [c.header for c in TEAM_COLUMNS]
MEMBER_HEADERS = [c.header for c in MEMBER_COLUMNS]


def team_row(code="KP1", name="Tổ CNSC Khu phố 1", hamlet="Khu phố 1", **extra):
    row = {c.key: None for c in TEAM_COLUMNS}
    row |= {"code": code, "name": name, "hamlet": hamlet, **extra}
    return [row[c.key] for c in TEAM_COLUMNS]


def member_row(
    name="Nguyễn Văn An",
    sex="Nam",
    year=1985,
    phone="0912 345 678",
    team="KP1",
    role="Tổ viên",
    **extra,
):
    """A row of the members' sheet; ``extra`` by column key (cccd, consent, email, ...)."""
    row = {c.key: None for c in MEMBER_COLUMNS}
    row |= {
        "full_name": name,
        "sex": sex,
        "birth_year": year,
        "phone": phone,
        "team_code": team,
        "role": role,
        **extra,
    }
    return [row[c.key] for c in MEMBER_COLUMNS]


def xlsx(teams=(), members=()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = TEAM_SHEET
    ws.append(TEAM_HEADERS)
    for row in teams:
        ws.append(row)
    ws = wb.create_sheet(MEMBER_SHEET)
    ws.append(MEMBER_HEADERS)
    for row in members:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(headers, rows, *, bom=True, delimiter=",") -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def run(data: bytes, commune, user, *, apply=False):
    return import_roster(
        upload=io.BytesIO(data),
        size=len(data),
        commune=commune,
        user=user,
        apply=apply,
        file_name="roster.xlsx",
    )


def errors_of(plan):
    return [(e.row, e.column, e.message) for e in plan.errors]


def standard_file():
    return xlsx(
        teams=[team_row(decision_number="12/QĐ-UBND", decision_date=dt.date(2023, 3, 1))],
        members=[
            member_row(role="Tổ trưởng", cccd=CCCD_MAN_1985, consent="Có"),
            member_row(
                name="Trần Thị Bình",
                sex="Nữ",
                year=2001,
                phone="+84 987 654 321",
                role="Tổ phó",
                cccd=CCCD_WOMAN_2001,
                organisation="Đoàn thanh niên",
            ),
            member_row(name="Lê Văn Cường", phone="84-903-111-222", joined_on="15/04/2023"),
        ],
    )


def test_the_template_has_vietnamese_headers_and_reads_back_as_an_empty_roster(hamlet, official):
    wb = load_workbook(io.BytesIO(template_workbook()))
    assert wb.sheetnames[:2] == [TEAM_SHEET, MEMBER_SHEET]
    assert [c.value for c in wb[MEMBER_SHEET][1]] == MEMBER_HEADERS
    assert "Họ và tên" in MEMBER_HEADERS
    with pytest.raises(ImportFileError, match="no rows"):
        run(template_workbook(), hamlet.commune, official)


def test_a_dry_run_says_what_would_happen_and_writes_nothing(hamlet, official):
    plan = run(standard_file(), hamlet.commune, official)
    assert plan.ok, errors_of(plan)
    assert plan.counts["teams_create"] == 1
    assert plan.counts["members_create"] == 3
    assert [r.label for r in plan.rows][1] == "Nguyễn Văn An (0912***678)"
    assert Team.objects.count() == Member.objects.count() == Membership.objects.count() == 0
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.IMPORT
    assert event.detail["dry_run"] is True
    assert event.user == official


def test_apply_writes_teams_members_and_memberships(hamlet, official):
    plan = run(standard_file(), hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    team = Team.objects.get()
    assert (team.code, team.hamlet, team.commune) == ("KP1", hamlet, hamlet.commune)
    assert team.decision_date == dt.date(2023, 3, 1)
    an = Member.objects.get(phone="+84912345678")
    assert an.cccd_last4 == "2345"
    assert an.consent_given_at is not None
    assert an.search_name == "nguyen van an"
    assert an.history.count() == 1
    binh = Member.objects.get(phone="+84987654321")
    assert binh.organisation == "youth_union"
    assert binh.consent_given_at is None  # no "Có": no consent
    roles = dict(Membership.objects.values_list("member__full_name", "role"))
    assert roles == {"Nguyễn Văn An": "leader", "Trần Thị Bình": "deputy", "Lê Văn Cường": "member"}
    assert Membership.objects.get(role="member").joined_on == dt.date(2023, 4, 15)
    event = AuditEvent.objects.get(detail__dry_run=False)
    assert event.rows == 4


def test_importing_the_same_file_twice_changes_nothing(hamlet, official):
    data = standard_file()
    run(data, hamlet.commune, official, apply=True)
    before = (
        list(Member.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Team.objects.order_by("pk").values()),
        Member.history.count(),
    )
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.ok
    assert plan.counts["members_unchanged"] == 3
    assert plan.counts["teams_unchanged"] == 1
    assert plan.counts["members_create"] == plan.counts["members_update"] == 0
    after = (
        list(Member.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Team.objects.order_by("pk").values()),
        Member.history.count(),
    )
    assert after == before


def test_members_are_matched_by_phone_in_any_spelling_or_by_cccd(hamlet, official):
    run(standard_file(), hamlet.commune, official, apply=True)
    data = xlsx(
        members=[
            member_row(
                name="Nguyễn Văn An",
                phone="84912345678",
                role="Tổ trưởng",
                skills="Hướng dẫn VNeID",
            ),
            # New phone, known CCCD: the same person with a new number.
            member_row(
                name="Trần Thị Bình",
                sex="Nữ",
                year=2001,
                phone="0978 000 111",
                role="Tổ phó",
                cccd="0793 0112 3456",
            ),
        ]
    )
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    assert plan.counts["members_update"] == 2
    assert Member.objects.count() == 3
    assert Member.objects.get(full_name="Nguyễn Văn An").skills == "Hướng dẫn VNeID"
    assert Member.objects.get(full_name="Trần Thị Bình").phone == "+84978000111"


def test_a_file_can_hand_over_the_leadership(hamlet, official):
    run(standard_file(), hamlet.commune, official, apply=True)
    data = xlsx(
        members=[
            member_row(role="Tổ viên"),
            member_row(
                name="Trần Thị Bình", sex="Nữ", year=2001, phone="0987654321", role="Tổ trưởng"
            ),
        ]
    )
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    leader = Membership.objects.active().get(role=MemberRole.LEADER)
    assert leader.member.full_name == "Trần Thị Bình"
    # The earlier memberships are ended, not changed: the history shows who led when.
    assert Membership.objects.filter(left_on__isnull=False).count() == 2


def test_a_csv_with_or_without_bom_imports_like_the_xlsx(hamlet, official):
    rows = [member_row(team=None, role=None, cccd=CCCD_MAN_1985)]
    for bom in (True, False):
        data = csv_bytes(MEMBER_HEADERS, rows, bom=bom, delimiter=";" if bom else ",")
        plan = run(data, hamlet.commune, official, apply=True)
        assert plan.ok, errors_of(plan)
    assert Member.objects.get().cccd_last4 == "2345"
    teams = csv_bytes(TEAM_HEADERS, [team_row()])
    assert run(teams, hamlet.commune, official, apply=True).counts["teams_create"] == 1


def test_numbers_typed_into_number_cells_keep_their_leading_zeros(hamlet, official):
    data = xlsx(members=[member_row(team=None, phone=912345678, cccd=int(CCCD_MAN_1985))])
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    member = Member.objects.get()
    assert member.phone == "+84912345678"
    assert member.cccd_last4 == "2345"


def _assert_nothing_written():
    assert Team.objects.count() == 0
    assert Member.objects.count() == 0
    assert Membership.objects.count() == 0


def test_one_bad_row_and_nothing_is_written(hamlet, official):
    data = xlsx(
        teams=[team_row()],
        members=[member_row(), member_row(name="Lê Văn Cường", phone="12345")],
    )
    plan = run(data, hamlet.commune, official, apply=True)
    assert [(e.row, e.column) for e in plan.errors] == [(3, "Số điện thoại")]
    assert "not a valid Vietnamese phone number" in plan.errors[0].message
    _assert_nothing_written()


@pytest.mark.parametrize(
    ("members", "column", "fragment"),
    [
        ([member_row(phone="+1 650 253 0000")], "Số điện thoại", "Vietnamese"),
        ([member_row(phone="gọi tôi")], "Số điện thoại", "not a phone number"),
        ([member_row(cccd="003085012345")], "Số CCCD", "province"),
        ([member_row(cccd=CCCD_WOMAN_2001)], "Số CCCD", "sex"),
        ([member_row(cccd="07408501234")], "Số CCCD", "12 digits"),
        ([member_row(), member_row(name="B", phone="0912345678")], "Số điện thoại", "row 2"),
        (
            [
                member_row(cccd=CCCD_MAN_1985),
                member_row(name="B", phone="0988000111", cccd=CCCD_MAN_1985),
            ],
            "Số CCCD",
            "row 2",
        ),
        (
            [
                member_row(role="Tổ trưởng"),
                member_row(name="B", phone="0988000111", role="Tổ trưởng"),
            ],
            "Vai trò",
            "leader",
        ),
        ([member_row(team="KP9")], "Mã tổ", "No team"),
        ([member_row(sex="?")], "Giới tính", "Nam"),
        ([member_row(year="năm ngoái")], "Năm sinh", "four digits"),
        ([member_row(year=2020)], "Năm sinh", "between"),
        ([member_row(role="trưởng nhóm x")], "Vai trò", "Tổ trưởng"),
        ([member_row(joined_on="31/02/2023")], "Ngày vào tổ", "dd/mm/yyyy"),
        ([member_row(consent="có lẽ")], "Đồng ý xử lý dữ liệu cá nhân", "Có"),
        ([member_row(email="not-an-email")], "Email", "email"),
    ],
)
def test_bad_member_rows_get_a_message_on_their_column(hamlet, official, members, column, fragment):
    data = xlsx(teams=[team_row()], members=members)
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.errors, "expected an error"
    error = plan.errors[-1]
    assert error.column == column
    assert fragment.lower() in error.message.lower()
    assert error.sheet == MEMBER_SHEET
    _assert_nothing_written()


def test_unknown_hamlet_and_another_communes_hamlet(hamlet, other_hamlet, official):
    data = xlsx(
        teams=[team_row(hamlet="Khu phố 99"), team_row(code="X2", hamlet=other_hamlet.code)],
    )
    plan = run(data, hamlet.commune, official, apply=True)
    messages = [(e.row, e.column, e.message) for e in plan.errors]
    assert messages[0][:2] == (2, "Thôn/Khu phố")
    assert "No hamlet" in messages[0][2]
    assert messages[1][:2] == (3, "Thôn/Khu phố")
    assert "another commune" in messages[1][2]
    _assert_nothing_written()


def test_hamlets_are_found_without_diacritics(hamlet, official):
    plan = run(xlsx(teams=[team_row(hamlet="khu pho 1")]), hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    assert Team.objects.get().hamlet == hamlet


def test_duplicate_team_codes_in_the_file(hamlet, official):
    plan = run(xlsx(teams=[team_row(), team_row(name="Khác")]), hamlet.commune, official)
    assert errors_of(plan) == [(3, "Mã tổ", "This team code is already on row 2.")]


def test_a_second_leader_for_a_team_that_has_one(hamlet, official):
    team = make_team(hamlet, code="KP1")
    enrol(team, role=MemberRole.LEADER, phone="0911000000")
    plan = run(xlsx(members=[member_row(role="Tổ trưởng")]), hamlet.commune, official, apply=True)
    assert [e.column for e in plan.errors] == ["Vai trò"]
    assert "already has a leader" in plan.errors[0].message
    assert Member.objects.count() == 1


def test_a_member_of_a_commune_the_user_cannot_see_is_not_touched(hamlet, other_hamlet, official):
    other_team = make_team(other_hamlet, code="HN1")
    enrol(other_team, phone="0912345678", full_name="Người Hà Nội")
    plan = run(
        xlsx(teams=[team_row()], members=[member_row()]), hamlet.commune, official, apply=True
    )
    assert [e.column for e in plan.errors] == ["Số điện thoại"]
    assert "another commune" in plan.errors[0].message
    assert Member.objects.get().full_name == "Người Hà Nội"


def test_a_dissolved_team_takes_no_members_from_a_file(hamlet, official):
    make_team(hamlet, code="KP1", status=TeamStatus.DISSOLVED)
    plan = run(xlsx(members=[member_row()]), hamlet.commune, official, apply=True)
    assert "dissolved" in plan.errors[0].message
    assert Member.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n\x00\x01binary", "not a spreadsheet"),
        (b"PK\x03\x04 this is not really a zip", "not a spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", ".xls"),
        ("Tên,Tuổi\nAn,30\n".encode(), "No table"),
        ("Họ và tên,Giới tính\n".encode("utf-16"), "not a spreadsheet"),
        ("Tên;Năm sinh\n".encode("cp1258"), "UTF-8"),
    ],
)
def test_files_that_are_not_rosters_get_a_clear_message(hamlet, official, data, fragment):
    with pytest.raises(ImportFileError) as error:
        run(data, hamlet.commune, official, apply=True)
    assert fragment in str(error.value)
    _assert_nothing_written()


@override_settings(IMPORT_MAX_BYTES=10 * 1024 * 1024)
def test_a_50_mb_file_is_refused_before_it_is_read(hamlet, official):
    with pytest.raises(ImportFileError) as error:
        import_roster(
            upload=io.BytesIO(b"x"),
            size=50 * 1024 * 1024,
            commune=hamlet.commune,
            user=official,
            apply=True,
        )
    assert "too large (50.0 MB)" in str(error.value)
    assert "limit is 10 MB" in str(error.value)


def test_an_import_never_logs_or_stores_the_full_cccd(hamlet, official, caplog):
    from cnsc.team.tests.test_services import _all_text_in_the_database

    caplog.set_level(logging.DEBUG)
    run(standard_file(), hamlet.commune, official, apply=True)
    bad = xlsx(members=[member_row(cccd="074086012345")])
    run(bad, hamlet.commune, official, apply=True)
    stored = _all_text_in_the_database()
    for number in (CCCD_MAN_1985, CCCD_WOMAN_2001, "074086012345"):
        assert number not in stored
        assert number not in caplog.text


def test_moving_a_member_between_teams_of_the_commune(hamlet, official):
    second = Hamlet.objects.create(
        commune=hamlet.commune, name="Khu phố 2", kind=HamletKind.QUARTER
    )
    run(standard_file(), hamlet.commune, official, apply=True)
    data = xlsx(
        teams=[team_row(code="KP2", name="Tổ CNSC Khu phố 2", hamlet=second.name)],
        members=[member_row(name="Lê Văn Cường", phone="0903111222", team="KP2")],
    )
    plan = run(data, hamlet.commune, official, apply=True)
    assert plan.ok, errors_of(plan)
    history = Membership.objects.filter(member__phone="+84903111222").order_by("joined_on")
    assert [(m.team.code, m.left_on is None) for m in history] == [("KP1", False), ("KP2", True)]


def _people(count: int, prefix: str):
    return [member_row(name=f"Người {i}", phone=f"{prefix}{i:06d}") for i in range(count)]


def _selects(context) -> int:
    return sum(q["sql"].startswith("SELECT") for q in context.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(hamlet, official):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run(xlsx(teams=[team_row()]), hamlet.commune, official, apply=True)
    with CaptureQueriesContext(connection) as small:
        assert run(xlsx(members=_people(5, "0912")), hamlet.commune, official, apply=True).ok
    with CaptureQueriesContext(connection) as large:
        assert run(xlsx(members=_people(500, "0913")), hamlet.commune, official, apply=True).ok
    assert Member.objects.count() == 505
    # Reads are per file, writes per batch (SQLite caps the rows of one INSERT).
    assert _selects(large) == _selects(small)
    assert len(large.captured_queries) < 500 / 8
    rows = [[*r[:7], "Hướng dẫn VNeID", *r[8:]] for r in _people(500, "0913")]
    with CaptureQueriesContext(connection) as updates:
        plan = run(xlsx(members=rows), hamlet.commune, official, apply=True)
    assert plan.counts["members_update"] == 500
    assert _selects(updates) <= _selects(small) + 1
    assert len(updates.captured_queries) < 500 / 8


def test_row_errors_are_in_the_users_language(hamlet, official):
    data = xlsx(members=[member_row(phone="+1 650 253 0000", team=None)])
    with translation.override("vi"):
        plan = run(data, hamlet.commune, official)
        expected = translation.gettext("Only Vietnamese phone numbers are accepted (+84).")
    assert expected.startswith("Chỉ")  # the catalogue has it: the official reads Vietnamese
    assert plan.errors[0].message == expected
    assert (plan.errors[0].row, plan.errors[0].column) == (2, "Số điện thoại")


def _roster_snapshot():
    return (
        list(Team.objects.order_by("pk").values()),
        list(Member.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        Team.history.count(),
        Member.history.count(),
        Membership.history.count(),
    )


@pytest.mark.parametrize(
    ("bad_member", "bad_team"),
    [
        (member_row(name="X", phone="0912 34", team="KP1"), None),
        (member_row(name="X", phone="0988000111", cccd="003085012345"), None),
        (member_row(name="X", phone="0903111222"), None),  # Lê Văn Cường's phone again
        (member_row(name="X", phone="0988000111", role="Tổ trưởng"), None),
        (None, "other commune"),
        (None, "Khu phố 99"),
    ],
)
def test_a_bad_row_in_a_file_of_changes_leaves_the_stored_roster_as_it_was(
    hamlet, other_hamlet, official, bad_member, bad_team
):
    assert run(standard_file(), hamlet.commune, official, apply=True).ok
    before = _roster_snapshot()
    # Good changes to every stored person and team, a new team, a new member: none may land.
    teams = [team_row(name="Tổ CNSC Khu phố 1 (mới)"), team_row(code="KP2", name="Tổ 2")]
    if bad_team is not None:
        hamlet_name = other_hamlet.code if bad_team == "other commune" else bad_team
        teams.append(team_row(code="KP3", name="Tổ 3", hamlet=hamlet_name))
    members = [
        member_row(role="Tổ viên", skills="Hướng dẫn VNeID"),
        member_row(name="Trần Thị Bình", sex="Nữ", year=2001, phone="0987654321", role="Tổ trưởng"),
        member_row(name="Lê Văn Cường", phone="0903111222", team="KP2"),
        member_row(name="Phạm Thị Dung", sex="Nữ", year=1990, phone="0977000111"),
    ]
    if bad_member is not None:
        members.append(bad_member)
    plan = run(xlsx(teams=teams, members=members), hamlet.commune, official, apply=True)
    assert plan.errors
    assert all(e.row and e.column for e in plan.errors), errors_of(plan)
    assert _roster_snapshot() == before
