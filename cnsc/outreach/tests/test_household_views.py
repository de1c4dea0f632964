"""Back-office pages for the household list and a resident's rights: the import's preview and
apply, the template, the masked export, and scoping (another commune 404, no unit empty,
read-only 403 on writes)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.outreach.imports import COLUMNS
from cnsc.outreach.models import Household, Resident
from cnsc.outreach.tests.factories import CCCD_MAN_1960, make_head
from cnsc.outreach.tests.test_household_import import csv_file, family, row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def upload(data: bytes, name: str = "ho.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


IMPORT = reverse("outreach:household_import")
EXPORT = reverse("outreach:household_export")
TEMPLATE = reverse("outreach:household_template")


def test_the_import_previews_then_applies(client_of, official, hamlet, team, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client = client_of(official)
    assert client.get(IMPORT).status_code == 200
    page = client.post(IMPORT, {"commune": hamlet.commune.pk, "file": upload(csv_file(family()))})
    assert page.status_code == 200
    text = page.content.decode()
    assert (gettext("Residents to create"), 3) in page.context["counts"]
    assert "Nguyễn Văn Tư" in text
    assert not Resident.objects.exists()
    token = page.context["token"]
    assert token
    done = client.post(IMPORT, {"token": token})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:outreach_household_changelist")
    assert Resident.objects.count() == 3
    assert list(AuditEvent.objects.values_list("action", "detail__dry_run")) == [
        (AuditAction.IMPORT, False),
        (AuditAction.IMPORT, True),
    ]
    # The kept file is used once.
    assert client.post(IMPORT, {"token": token}).status_code == 403


def test_a_file_with_errors_shows_them_and_cannot_be_applied(client_of, official, hamlet, team):
    client = client_of(official)
    data = csv_file([row(cccd="07908501234")])
    page = client.post(IMPORT, {"commune": hamlet.commune.pk, "file": upload(data)})
    assert page.status_code == 200
    assert page.context["token"] == ""
    [error] = page.context["result"].errors
    assert (error.row, error.column) == (2, "Số CCCD")
    # The back office speaks Vietnamese: the message is shown as translated.
    with translation.override("vi"):
        expected = gettext("A citizen identity number (CCCD) has exactly 12 digits.")
    assert error.message == expected
    assert expected in page.content.decode()
    assert not Resident.objects.exists()


def test_a_file_that_is_not_a_spreadsheet_is_refused_on_the_form(client_of, official, hamlet):
    page = client_of(official).post(
        IMPORT, {"commune": hamlet.commune.pk, "file": upload(b"%PDF-1.7\x00", "a.pdf")}
    )
    assert page.status_code == 200
    with translation.override("vi"):
        expected = gettext(
            "This file is not a spreadsheet that can be read. Upload an .xlsx or .csv file."
        )
    assert page.context["form"].errors["file"] == [expected]


def test_a_token_of_another_user_is_refused(client_of, official, hamlet, team, settings, tmp_path):
    from cnsc.access.roles import Role
    from cnsc.core.testing import make_user

    settings.VAR_DIR = tmp_path
    page = client_of(official).post(
        IMPORT, {"commune": hamlet.commune.pk, "file": upload(csv_file(family()))}
    )
    colleague = make_user("colleague", Role.COMMUNE_OFFICIAL, (hamlet.commune,))
    assert client_of(colleague).post(IMPORT, {"token": page.context["token"]}).status_code == 403
    assert client_of(official).post(IMPORT, {"token": "forged"}).status_code == 403
    assert not Resident.objects.exists()


def test_the_template_downloads(client_of, official):
    response = client_of(official).get(TEMPLATE)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]


def test_the_changelist_links_to_import_export_and_template(client_of, official):
    page = client_of(official).get(reverse("admin:outreach_household_changelist"))
    text = page.content.decode()
    assert IMPORT in text
    assert EXPORT in text
    assert TEMPLATE in text


def exported(response):
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    return [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]


def test_the_export_is_masked_and_recorded(client_of, official, hamlet, team, household):
    make_head(
        household,
        full_name="Nguyễn Văn Tư",
        birth_year=1960,
        phone="0912 345 678",
        cccd=CCCD_MAN_1960,
    )
    response = client_of(official).post(EXPORT, {"commune": hamlet.commune.pk})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = exported(response)
    assert len(rows) == 1
    flat = " ".join(str(v) for v in rows[0])
    assert "0912***678" in flat
    assert "0912345678" not in flat
    assert "********1222" in flat
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (event.rows, event.unmasked, event.detail["filters"]) == (
        1,
        False,
        {"commune": hamlet.commune.code},
    )


def test_unmasked_only_with_the_permission_and_recorded_so(client_of, superuser, household):
    make_head(household, full_name="Nguyễn Văn Tư", phone="0912 345 678")
    response = client_of(superuser).post(EXPORT, {})
    assert "0912345678" in " ".join(str(v) for v in exported(response)[0])
    assert AuditEvent.objects.get(action=AuditAction.EXPORT).unmasked is True


def test_an_export_reimports_without_changes(client_of, official, hamlet, team, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client = client_of(official)
    page = client.post(IMPORT, {"commune": hamlet.commune.pk, "file": upload(csv_file(family()))})
    client.post(IMPORT, {"token": page.context["token"]})
    exported_file = client.post(EXPORT, {"commune": hamlet.commune.pk}).content
    again = client.post(
        IMPORT, {"commune": hamlet.commune.pk, "file": upload(exported_file, "export.xlsx")}
    )
    result = again.context["result"]
    assert result.ok, result.errors
    assert result.counts["residents_unchanged"] == 3
    assert result.counts["households_unchanged"] == 1


# --- Scoping --------------------------------------------------------------------------------


def test_an_outsider_cannot_import_into_or_export_another_commune(
    client_of, outsider, hamlet, household
):
    make_head(household, full_name="Nguyễn Văn Tư")
    client = client_of(outsider)
    page = client.post(IMPORT, {"commune": hamlet.commune.pk, "file": upload(csv_file([row()]))})
    assert page.status_code == 200
    assert "commune" in page.context["form"].errors
    assert Resident.objects.count() == 1
    assert exported(client.post(EXPORT, {})) == []
    refused = client.post(EXPORT, {"commune": hamlet.commune.pk})
    assert "commune" in refused.context["form"].errors


def test_a_user_without_a_unit_exports_an_empty_list(client_of, unassigned, household):
    make_head(household, full_name="Nguyễn Văn Tư")
    assert exported(client_of(unassigned).post(EXPORT, {})) == []


def test_read_only_users_cannot_import(client_of, province_reader, hamlet):
    client = client_of(province_reader)
    assert client.get(IMPORT).status_code == 403
    data = csv_file([row()])
    assert (
        client.post(IMPORT, {"commune": hamlet.commune.pk, "file": upload(data)}).status_code == 403
    )
    assert not Household.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in (IMPORT, EXPORT, TEMPLATE):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]
