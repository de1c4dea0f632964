"""A resident's rights: their data as PDF and JSON (theirs and no one else's), corrections
recorded, and erasure that removes the person everywhere while the counts stay."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.core.text import search_key
from cnsc.outreach.catalogue import Service, State
from cnsc.outreach.models import Household, Resident, ServiceEvent, ServiceState, Visit
from cnsc.outreach.rights import (
    ERASED_NAME,
    resident_correction_record,
    resident_data,
    resident_erase,
    resident_export,
)
from cnsc.outreach.services import field_report_create, resident_update
from cnsc.outreach.tests.factories import (
    CCCD_MAN_1960,
    done,
    make_head,
    make_resident,
    record,
)

pytestmark = pytest.mark.django_db

NAME = "Nguyễn Văn Tư"
PHONE = "+84912345678"
SPOUSE = "Trần Thị Bích"
SPOUSE_PHONE = "+84987654321"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def person(household, member, official):
    """The head of a household of two, helped on two visits; a visit note and a field report
    name him; an official corrected his record in the back office."""
    head = make_head(household, full_name=NAME, birth_year=1960, phone=PHONE, cccd=CCCD_MAN_1960)
    spouse = make_resident(
        household, full_name=SPOUSE, sex="female", birth_year=1990, phone=SPOUSE_PHONE
    )
    household.phone = PHONE
    household.save()
    record(member, household, [done(head), done(spouse)], notes=f"Đã gặp ông {NAME}, 0912 345 678")
    record(member, household, [done(head, Service.PAYMENT, details={"kind": "bank"})])
    field_report_create(
        reporter=member,
        category="complaint",
        text=f"Ông {NAME} ({PHONE}) phản ánh bị gọi lừa đảo",
        idempotency_key="report-1",
    )
    resident_update(resident=head, owns_smartphone=True)
    LogEntry.objects.create(
        user=official,
        content_type=ContentType.objects.get_for_model(Resident),
        object_id=str(head.pk),
        object_repr=str(head),
        action_flag=CHANGE,
        change_message=f"Đổi tên {NAME}",
    )
    return head


def test_the_json_holds_their_data_and_no_one_elses(person, member):
    data = resident_data(person)
    assert data["resident"]["full_name"] == NAME
    assert data["resident"]["phone"] == "0912345678"
    assert data["resident"]["cccd"] == "********1222"
    services = {(s["service"], s["state"]) for s in data["services"]}
    assert ("VNeID electronic identity", "Level 2 activated") in services
    assert len(data["visits"]) == 2
    text = json.dumps(data, ensure_ascii=False)
    for other in (SPOUSE, SPOUSE_PHONE, "0987654321", member.full_name, CCCD_MAN_1960):
        assert other not in text


def test_the_pdf_is_in_vietnamese_and_holds_their_data_only(person, member):
    with translation.override("vi"):
        content, name = resident_export(resident=person, user=None, fmt="pdf")
    assert name == f"du-lieu-ca-nhan-{person.code}.pdf"
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert NAME in text
    assert "0912345678" in text
    assert SPOUSE not in text
    assert member.full_name not in text
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("BeVietnamPro" in f for f in fonts)


def test_each_export_of_a_persons_data_is_recorded(person, official):
    resident_export(resident=person, user=official, fmt="json")
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (event.user, event.rows, event.unmasked) == (official, 1, True)
    assert event.detail == {"resident": person.code, "format": "json", "request": "access"}


def test_a_correction_is_recorded_without_its_values(person, official):
    resident_correction_record(resident=person, user=official, fields=["phone", "full_name"])
    event = AuditEvent.objects.get(action=AuditAction.CORRECT)
    assert event.detail == {"resident": person.code, "fields": ["full_name", "phone"]}


def counts(commune):
    """What indicators are made of, for the commune."""
    residents = Resident.objects.filter(household__commune=commune)
    return {
        "residents": residents.count(),
        "aged_14_and_over": residents.filter(
            birth_year__lte=timezone.localdate().year - 14
        ).count(),
        "by_sex": dict(residents.values_list("sex").annotate(n=Count("id"))),
        "states": dict(
            ServiceState.objects.filter(resident__in=residents)
            .values_list("service", "state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        ),
        "level2": ServiceState.objects.filter(
            resident__in=residents, service=Service.VNEID, state=State.LEVEL2
        ).count(),
        "events": ServiceEvent.objects.filter(resident__in=residents).count(),
        "visits": Visit.objects.filter(commune=commune).count(),
        "households": Household.objects.filter(commune=commune).count(),
    }


def every_text(cursor) -> list[tuple[str, str]]:
    """Every value of every column of every table, as text, with its table's name."""
    found = []
    for table in connection.introspection.table_names(cursor):
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
        for values in cursor.fetchall():
            found += [(table, str(v)) for v in values if v is not None]
    return found


def test_erasure_removes_the_person_everywhere_and_keeps_the_counts(person, official, household):
    before = counts(household.commune)
    with connection.cursor() as cursor:
        assert any(NAME in value for _t, value in every_text(cursor))
    resident_erase(resident=person, user=official)
    assert counts(household.commune) == before
    traces = [NAME, search_key(NAME), PHONE, "0912345678", "0912 345 678", CCCD_MAN_1960]
    traces.append(person.cccd_hash)
    with connection.cursor() as cursor:
        leaks = [
            (table, value)
            for table, value in every_text(cursor)
            for trace in traces
            if trace and trace.lower() in value.lower()
        ]
    assert leaks == []
    person.refresh_from_db()
    assert person.full_name == ERASED_NAME
    assert person.erased_at is not None
    assert (person.phone, person.cccd_hash, person.cccd_last4) == ("", "", "")
    assert person.birth_year == 1960
    household.refresh_from_db()
    assert household.head is None
    assert household.phone == ""
    # The spouse is untouched.
    spouse = Resident.objects.get(full_name=SPOUSE)
    assert spouse.phone == SPOUSE_PHONE
    event = AuditEvent.objects.get(action=AuditAction.ERASE)
    assert (event.user, event.detail) == (official, {"resident": person.code})


def test_an_erased_resident_cannot_be_erased_twice(person, official):
    resident_erase(resident=person, user=official)
    with pytest.raises(ValidationError):
        resident_erase(resident=person, user=official)


# --- The pages ------------------------------------------------------------------------------


def rights(resident) -> str:
    return reverse("outreach:resident_rights", args=[resident.code])


def data(resident, fmt: str) -> str:
    return reverse("outreach:resident_data_export", args=[resident.code, fmt])


def erase(resident) -> str:
    return reverse("outreach:resident_data_erase", args=[resident.code])


def test_an_official_downloads_and_erases_through_the_pages(client_of, official, person):
    client = client_of(official)
    page = client.get(rights(person))
    assert page.status_code == 200
    assert data(person, "pdf") in page.content.decode()
    pdf = client.get(data(person, "pdf"))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    as_json = client.get(data(person, "json"))
    assert json.loads(as_json.content)["resident"]["full_name"] == NAME
    # The code must be typed to confirm.
    client.post(erase(person), {"confirm": "wrong"})
    person.refresh_from_db()
    assert person.erased_at is None
    response = client.post(erase(person), {"confirm": person.code})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.erased_at is not None


def test_the_resident_form_links_to_the_rights_page(client_of, official, person):
    page = client_of(official).get(reverse("admin:outreach_resident_change", args=[person.pk]))
    assert rights(person) in page.content.decode()


def test_an_outsider_gets_404(client_of, outsider, person):
    client = client_of(outsider)
    assert client.get(rights(person)).status_code == 404
    assert client.get(data(person, "json")).status_code == 404
    assert client.post(erase(person), {"confirm": person.code}).status_code == 404
    person.refresh_from_db()
    assert person.erased_at is None
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_user_without_a_unit_sees_nothing(client_of, unassigned, person):
    assert client_of(unassigned).get(rights(person)).status_code in (403, 404)


def test_read_only_users_may_look_but_not_export_or_erase(client_of, province_reader, person):
    client = client_of(province_reader)
    assert client.get(rights(person)).status_code == 200
    assert client.get(data(person, "pdf")).status_code == 403
    assert client.post(erase(person), {"confirm": person.code}).status_code == 403
    person.refresh_from_db()
    assert person.erased_at is None
