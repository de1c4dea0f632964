"""The training back office: scoped lists, 404 for another commune's rows, 403 for read-only
users on every write, and the attendance page, QR code, certificates and export as an official
uses them."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.core.models import Credential
from cnsc.core.testing_pdf import pdf_text
from cnsc.team.tests.factories import make_member
from cnsc.training.certificates import certificate_issue
from cnsc.training.models import (
    Attendance,
    Audience,
    BlockKind,
    Course,
    Handbook,
    HandbookStatus,
    ResidentAttendee,
    Topic,
    TrainingSession,
)
from cnsc.training.services import (
    attendance_add_resident,
    attendance_record,
    handbook_block_add,
    handbook_create,
    handbook_publish,
)
from cnsc.training.tests.factories import make_course, make_session, move_session, pdf_upload

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def handbook(home_commune):
    handbook = handbook_create(
        unit=home_commune,
        title="Cẩm nang của phường",
        topic=Topic.VNEID,
        audience=Audience.RESIDENTS,
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Nội dung")
    return handbook


@pytest.fixture
def province_handbook(home_province):
    handbook = handbook_create(
        unit=home_province,
        title="Cẩm nang của thành phố",
        topic=Topic.PAYMENTS,
        audience=Audience.MEMBERS,
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Nội dung")
    return handbook_publish(handbook=handbook)


@pytest.fixture
def course(home_province):
    return make_course(home_province)


@pytest.fixture
def session(course, home_commune):
    return make_session(course, home_commune)


@pytest.fixture
def certified(session):
    row = attendance_add_resident(
        session=session,
        full_name="Đỗ Thị Thu",
        birth_year=1970,
        phone="0912 345 678",
        consent_given=True,
        attended=True,
    )
    row = attendance_record(attendance=row, attended=True)
    certificate_issue(attendance=row)
    return row


def change_url(obj):
    return reverse(f"admin:training_{obj._meta.model_name}_change", args=[obj.pk])


def changelist(model):
    return reverse(f"admin:training_{model._meta.model_name}_changelist")


def custom_urls(handbook, session, certified):
    return [
        reverse("admin:training_handbook_preview", args=[handbook.pk]),
        reverse("admin:training_handbook_new_version", args=[handbook.pk]),
        reverse("admin:training_session_attendance", args=[session.pk]),
        reverse("admin:training_session_code", args=[session.pk]),
        reverse("admin:training_session_certificates", args=[session.pk]),
        reverse("admin:training_session_export", args=[session.pk]),
        reverse("admin:training_attendance_certificate", args=[certified.pk]),
        reverse("admin:training_attendance_revoke", args=[certified.pk]),
    ]


# --- Scope ------------------------------------------------------------------------------------


def test_an_outsider_gets_404_for_every_page_of_ours(
    client_of, outsider, handbook, session, certified
):
    """An official of another province, with every training permission, finds nothing."""
    client = client_of(outsider)
    for obj in (handbook, session.course, session, certified, certified.resident):
        assert client.get(change_url(obj)).status_code == 404, obj
    for url in custom_urls(handbook, session, certified):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"action": "results", "reason": "x"}).status_code == 404, url


def test_a_user_without_a_unit_sees_empty_lists(
    client_of, unassigned, handbook, session, certified
):
    client = client_of(unassigned)
    for model in (Handbook, Course, TrainingSession, Attendance, ResidentAttendee):
        response = client.get(changelist(model))
        assert response.status_code == 200
        assert list(response.context["cl"].queryset) == [], model


def test_lists_hold_our_communes_rows_and_the_provinces(
    client_of, official, handbook, province_handbook, other_commune
):
    handbook_create(
        unit=other_commune, title="Cẩm nang Hà Nội", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    page = client_of(official).get(changelist(Handbook)).content.decode()
    assert "Cẩm nang của phường" in page
    assert "Cẩm nang của thành phố" in page
    assert "Cẩm nang Hà Nội" not in page


def test_a_commune_reads_the_provinces_handbook_but_cannot_change_it(
    client_of, official, province_handbook
):
    client = client_of(official)
    assert client.get(change_url(province_handbook)).status_code == 200
    response = client.post(change_url(province_handbook), {"title": "Đổi tên"})
    assert response.status_code == 403
    response = client.post(
        changelist(Handbook),
        {"action": "retire", "_selected_action": [province_handbook.pk]},
        follow=True,
        **EN,
    )
    assert "only province staff can change it" in response.content.decode()
    province_handbook.refresh_from_db()
    assert province_handbook.status == HandbookStatus.PUBLISHED


def test_read_only_staff_get_403_on_every_write(
    client_of, province_reader, handbook, session, certified
):
    client = client_of(province_reader)
    assert client.get(changelist(Handbook)).status_code == 200
    assert (
        client.get(reverse("admin:training_session_attendance", args=[session.pk])).status_code
        == 200
    )
    assert client.get(reverse("admin:training_handbook_add")).status_code == 403
    assert client.post(reverse("admin:training_handbook_add"), {}).status_code == 403
    assert client.post(change_url(handbook), {"title": "x"}).status_code == 403
    writes = [
        reverse("admin:training_session_attendance", args=[session.pk]),
        reverse("admin:training_session_issue", args=[session.pk]),
        reverse("admin:training_attendance_revoke", args=[certified.pk]),
        reverse("admin:training_handbook_new_version", args=[handbook.pk]),
    ]
    for url in writes:
        assert (
            client.post(url, {"action": "results", "reason": "x", "change_note": "x"}).status_code
            == 403
        ), url
    assert client.get(reverse("admin:training_session_code", args=[session.pk])).status_code == 403
    response = client.post(
        changelist(Handbook), {"action": "publish", "_selected_action": [handbook.pk]}
    )
    assert Handbook.objects.get(pk=handbook.pk).status == HandbookStatus.DRAFT
    assert response.status_code in (200, 302, 403)
    assert certified.certificate.revoked_at is None


# --- Handbooks --------------------------------------------------------------------------------


def test_an_official_uploads_a_handbook_and_a_non_pdf_is_refused(client_of, official, home_commune):
    client = client_of(official)
    form = client.get(reverse("admin:training_handbook_add")).context["adminform"].form
    assert form.initial["unit"] == home_commune.pk  # nothing to choose for one commune
    data = {
        "unit": home_commune.pk,
        "title": "Hướng dẫn dịch vụ công",
        "topic": Topic.PUBLIC_SERVICES,
        "audience": Audience.RESIDENTS,
        "language": "vi",
        "source": "upload",
        "change_note": "",
        "pdf": SimpleUploadedFile("huong-dan.pdf", b"<html>not a pdf</html>"),
    }
    response = client.post(reverse("admin:training_handbook_add"), data, **EN)
    assert response.status_code == 200
    assert "This file is not a PDF" in response.content.decode()
    assert not Handbook.objects.exists()


def test_the_province_writes_for_every_commune_and_a_commune_only_for_itself(
    client_of, province_staff, official, home_province, home_commune, neighbour_commune
):
    add = reverse("admin:training_handbook_add")
    commune_form = client_of(official).get(add).context["adminform"].form
    assert list(commune_form.fields["unit"].queryset) == [home_commune]

    staff = client_of(province_staff)
    assert home_province in staff.get(add).context["adminform"].form.fields["unit"].queryset
    created = staff.post(
        add,
        {
            "unit": home_province.pk,
            "title": "Cẩm nang ví điện tử của thành phố",
            "topic": Topic.PAYMENTS,
            "audience": Audience.RESIDENTS,
            "language": "vi",
            "source": "upload",
            "change_note": "",
            "pdf": pdf_upload(),
        },
    )
    assert created.status_code == 302
    handbook = Handbook.objects.get()
    staff.post(changelist(Handbook), {"action": "publish", "_selected_action": [handbook.pk]})
    handbook.refresh_from_db()
    assert handbook.status == HandbookStatus.PUBLISHED
    for commune in (home_commune, neighbour_commune):
        page = client_of(official).get(reverse("training:handbooks"), {"xa": commune.code})
        assert "Cẩm nang ví điện tử của thành phố" in page.content.decode()


def test_an_official_publishes_from_the_list(client_of, official, handbook):
    client = client_of(official)
    response = client.post(
        changelist(Handbook),
        {"action": "publish", "_selected_action": [handbook.pk]},
        follow=True,
        **EN,
    )
    assert "Handbooks published: 1." in response.content.decode()
    handbook.refresh_from_db()
    assert handbook.status == HandbookStatus.PUBLISHED
    # A published handbook is no longer edited in place: a new version is started instead.
    assert client.post(change_url(handbook), {"title": "x"}).status_code == 403
    new = client.post(
        reverse("admin:training_handbook_new_version", args=[handbook.pk]),
        {"change_note": "Cập nhật số tổng đài"},
    )
    draft = Handbook.objects.get(replaces=handbook)
    assert new.status_code == 302
    assert (draft.version, draft.status) == (2, HandbookStatus.DRAFT)


def test_the_preview_prints_a_draft(client_of, official, handbook):
    response = client_of(official).get(
        reverse("admin:training_handbook_preview", args=[handbook.pk])
    )
    assert response["Content-Type"] == "application/pdf"
    assert "Cẩm nang của phường" in pdf_text(response.content)[0]


# --- Sessions ---------------------------------------------------------------------------------


def test_a_session_in_the_past_is_refused_in_the_back_office(
    client_of, official, course, home_commune
):
    yesterday = timezone.localtime() - dt.timedelta(days=1)
    response = client_of(official).post(
        reverse("admin:training_trainingsession_add"),
        {
            "course": course.pk,
            "commune": home_commune.pk,
            "place": "Nhà văn hóa khu phố 1",
            "starts_at_0": yesterday.strftime("%Y-%m-%d"),
            "starts_at_1": "08:00:00",
            "ends_at_0": yesterday.strftime("%Y-%m-%d"),
            "ends_at_1": "11:00:00",
            "capacity": 30,
        },
        **EN,
    )
    assert response.status_code == 200
    assert "A new session cannot start in the past." in response.content.decode()
    assert not TrainingSession.objects.exists()


def test_the_trainer_adds_people_marks_them_and_issues_certificates(
    client_of, official, session, home_commune
):
    client = client_of(official)
    url = reverse("admin:training_session_attendance", args=[session.pk])
    member = make_member(home_commune, full_name="Bùi Văn Tư")
    assert (
        client.post(
            url, {"action": "member", "m-member": member.pk, "m-attended": "on"}
        ).status_code
        == 302
    )
    no_consent = client.post(
        url, {"action": "resident", "r-full_name": "Ngô Thị Bảy", "r-birth_year": "1959"}, **EN
    )
    assert no_consent.status_code == 400
    assert "only with your consent" in no_consent.content.decode()
    assert not ResidentAttendee.objects.exists()
    assert (
        client.post(
            url,
            {
                "action": "resident",
                "r-full_name": "Ngô Thị Bảy",
                "r-birth_year": "1959",
                "r-consent": "on",
            },
        ).status_code
        == 302
    )

    page = client.get(url, **EN)
    rows = {r["attendance"].person_name: r["attendance"] for r in page.context["rows"]}
    resident_row = rows["Ngô Thị Bảy"]
    shown = [f"{a.pk}:{int(a.attended)}:" for a in rows.values()]
    saved = client.post(
        url,
        {
            "action": "results",
            "shown": shown,
            f"present-{rows['Bùi Văn Tư'].pk}": "on",
            f"present-{resident_row.pk}": "on",
        },
        follow=True,
        **EN,
    )
    assert "Results saved: 1 changed." in saved.content.decode()
    assert Attendance.objects.filter(session=session, passed=True).count() == 2

    issued = client.post(
        reverse("admin:training_session_issue", args=[session.pk]), follow=True, **EN
    )
    assert "2 certificates issued" in issued.content.decode()
    pdf = client.get(reverse("admin:training_session_certificates", args=[session.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert len(pdf_text(pdf.content)) == 2


def test_a_page_loaded_before_someone_scanned_does_not_mark_them_absent(
    client_of, official, session, home_commune
):
    row = attendance_add_resident(
        session=session, full_name="Lý Văn Mười", birth_year=1980, consent_given=True
    )
    shown_when_loaded = f"{row.pk}:0:"
    attendance_record(attendance=row, attended=True)  # they scanned meanwhile
    client_of(official).post(
        reverse("admin:training_session_attendance", args=[session.pk]),
        {"action": "results", "shown": [shown_when_loaded]},
    )
    row.refresh_from_db()
    assert row.attended is True


def test_a_full_session_says_so_on_the_attendance_page(client_of, official, course, home_commune):
    session = make_session(course, home_commune, capacity=1)
    attendance_add_resident(
        session=session, full_name="Người đầu", birth_year=1970, consent_given=True
    )
    response = client_of(official).post(
        reverse("admin:training_session_attendance", args=[session.pk]),
        {
            "action": "resident",
            "r-full_name": "Người sau",
            "r-birth_year": "1971",
            "r-consent": "on",
        },
        **EN,
    )
    assert response.status_code == 400
    assert "This session is full: all 1 places are taken." in response.content.decode()
    assert not ResidentAttendee.objects.filter(full_name="Người sau").exists()


def test_the_qr_page_shows_a_code_only_while_attendance_is_open(
    client_of, official, session, course, home_commune
):
    client = client_of(official)
    open_page = client.get(reverse("admin:training_session_code", args=[session.pk]))
    assert open_page.context["open"] is True
    assert open_page.context["url"].startswith("http")
    later = make_session(course, home_commune, starts_in=dt.timedelta(days=2))
    closed = client.get(reverse("admin:training_session_code", args=[later.pk]), **EN)
    assert closed.context["open"] is False
    assert "Attendance by QR code is open from" in closed.content.decode()


def test_revoking_a_certificate_from_the_back_office(client_of, official, certified):
    client = client_of(official)
    url = reverse("admin:training_attendance_revoke", args=[certified.pk])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "In sai tên"}).status_code == 302
    certified.certificate.refresh_from_db()
    assert certified.certificate.revoked_reason == "In sai tên"


# --- Export -----------------------------------------------------------------------------------


def test_the_attendance_export_masks_phones_and_is_audited(client_of, official, certified, session):
    response = client_of(official).get(reverse("admin:training_session_export", args=[session.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    values = [str(v) for v in rows[1] if v is not None]
    assert "Đỗ Thị Thu" in values
    assert "0912***678" in values
    assert not any("345" in v for v in values)
    event = AuditEvent.objects.get()
    assert (event.action, event.target, event.rows, event.unmasked) == (
        AuditAction.EXPORT,
        "training.attendance",
        1,
        False,
    )
    assert event.detail["sessions"] == [session.code]
    assert event.user == official


def test_the_export_action_covers_only_visible_sessions(
    client_of, official, session, course, other_commune
):
    outside = make_session(make_course(other_commune, title="Khóa Hà Nội"), other_commune)
    attendance_add_resident(
        session=outside, full_name="Người Hà Nội", birth_year=1970, consent_given=True
    )
    response = client_of(official).post(
        changelist(TrainingSession),
        {"action": "export_xlsx", "_selected_action": [session.pk, outside.pk]},
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert "Người Hà Nội" not in str(list(sheet.iter_rows(values_only=True)))


def test_a_past_session_can_still_be_corrected(client_of, official, session):
    move_session(session, starts_ago=dt.timedelta(days=3))
    response = client_of(official).post(
        change_url(session),
        {
            "course": session.course_id,
            "commune": session.commune_id,
            "place": "Hội trường mới",
            "starts_at_0": timezone.localtime(session.starts_at).strftime("%Y-%m-%d"),
            "starts_at_1": timezone.localtime(session.starts_at).strftime("%H:%M:%S"),
            "ends_at_0": timezone.localtime(session.ends_at).strftime("%Y-%m-%d"),
            "ends_at_1": timezone.localtime(session.ends_at).strftime("%H:%M:%S"),
            "capacity": 30,
        },
        **EN,
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.place == "Hội trường mới"
    assert Credential.objects.count() == 0


def test_a_commune_reads_a_province_course_with_its_topics(client_of, official, course):
    response = client_of(official).get(change_url(course), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "VNeID electronic identity" in html
    assert "CourseTopic" not in html
    assert client_of(official).post(change_url(course), {"title": "x"}).status_code == 403


def test_an_official_creates_a_course_with_its_topics_and_passing_rule(
    client_of, official, home_commune
):
    client = client_of(official)
    data = {
        "unit": home_commune.pk,
        "title": "Chữ ký số từ xa",
        "topics": [Topic.DIGITAL_SIGNATURE, Topic.SECURITY],
        "hours": "2",
        "pass_rule": "score",
        "pass_score": "",
    }
    missing = client.post(reverse("admin:training_course_add"), data, **EN)
    assert "Give the score needed to pass" in missing.content.decode()
    assert not Course.objects.exists()
    data["pass_score"] = "80"
    assert client.post(reverse("admin:training_course_add"), data).status_code == 302
    course = Course.objects.get()
    assert course.topic_values == [Topic.DIGITAL_SIGNATURE, Topic.SECURITY]
    form = client.get(change_url(course)).context["adminform"].form
    assert form["topics"].value() == [Topic.DIGITAL_SIGNATURE, Topic.SECURITY]
