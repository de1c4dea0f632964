"""Sessions and attendance: by the trainer in the back office, or by scanning the session's QR
code on the day (a signed, short-lived code; one mark per person)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cnsc.team.tests.factories import make_member
from cnsc.training.models import Attendance, CheckInMethod, ResidentAttendee, TrainingSession
from cnsc.training.services import (
    attendance_add,
    attendance_code,
    attendance_record,
    attendance_url,
    resident_attendee_find_or_create,
    session_create,
)
from cnsc.training.tests.factories import make_course, make_score_course, make_session, move_session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit_leftovers():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def course(home_province):
    return make_course(home_province)


@pytest.fixture
def session(course, home_commune):
    return make_session(course, home_commune)


def resident(commune, name="Trần Thị Mai", year=1962, phone=""):
    return resident_attendee_find_or_create(
        commune=commune, full_name=name, birth_year=year, phone=phone, consent_given=True
    )


def attend_url(code):
    return reverse("training:attend", args=[code])


def post_resident(client, code, **data):
    form = {"who": "resident", "full_name": "Lê Văn Tám", "birth_year": "1958", "consent": "on"}
    form.update(data)
    return client.post(attend_url(code), form, HTTP_ACCEPT_LANGUAGE="en")


# --- Creating sessions ------------------------------------------------------------------------


def test_a_session_cannot_be_created_in_the_past(course, home_commune):
    start = timezone.now() - dt.timedelta(hours=1)
    with pytest.raises(ValidationError, match="cannot start in the past"):
        session_create(
            course=course,
            commune=home_commune,
            place="Nhà văn hóa khu phố 1",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=20,
        )
    assert not TrainingSession.objects.exists()


def test_a_session_holds_a_course_of_its_commune_or_province_only(home_commune, other_commune):
    hanoi_course = make_course(other_commune, title="Khóa của Hà Nội")
    with pytest.raises(ValidationError, match="belongs to another commune or province"):
        make_session(hanoi_course, home_commune)


def test_places_cannot_drop_below_the_people_listed(session, home_commune):
    from cnsc.training.services import session_save

    for name in ("A", "B", "C"):
        attendance_add(session=session, resident=resident(home_commune, name=f"Người {name}"))
    session.capacity = 2
    with pytest.raises(ValidationError, match="3 people are already on the list"):
        session_save(session=session)


# --- The trainer in the back office -----------------------------------------------------------


def test_the_trainer_marks_people_and_the_session_fills_up(course, home_commune):
    session = make_session(course, home_commune, capacity=2)
    member = make_member(home_commune)
    first = attendance_add(session=session, member=member, attended=True)
    # The course asks only for presence: present is passed.
    assert (first.attended, first.method, first.passed) == (True, CheckInMethod.BACK_OFFICE, True)
    attendance_add(session=session, resident=resident(home_commune))

    with pytest.raises(ValidationError, match="already on the list"):
        attendance_add(session=session, member=member)
    with pytest.raises(ValidationError, match="This session is full: all 2 places are taken"):
        attendance_add(session=session, resident=resident(home_commune, name="Người thứ ba"))
    assert session.attendances.count() == 2


def test_presence_cannot_be_marked_days_before_the_session(course, home_commune):
    session = make_session(course, home_commune, starts_in=dt.timedelta(days=3))
    with pytest.raises(ValidationError, match="has not started yet"):
        attendance_add(session=session, resident=resident(home_commune), attended=True)
    assert not Attendance.objects.exists()


def test_passing_follows_the_course_rule(home_province, home_commune):
    session = make_session(make_score_course(home_province, pass_score=70), home_commune)
    low = attendance_add(session=session, resident=resident(home_commune, name="Điểm thấp"))
    high = attendance_add(session=session, resident=resident(home_commune, name="Điểm cao"))
    absent = attendance_add(session=session, resident=resident(home_commune, name="Vắng mặt"))

    assert attendance_record(attendance=low, attended=True, score=69).passed is False
    assert attendance_record(attendance=high, attended=True, score=70).passed is True
    assert attendance_record(attendance=absent, attended=False).passed is False
    with pytest.raises(ValidationError, match="did not attend has no score"):
        attendance_record(attendance=absent, attended=False, score=90)


def test_a_course_without_a_test_takes_no_score(session, home_commune):
    row = attendance_add(session=session, resident=resident(home_commune))
    with pytest.raises(ValidationError, match="no test"):
        attendance_record(attendance=row, attended=True, score=80)
    assert attendance_record(attendance=row, attended=True).passed is True


def test_a_resident_is_kept_only_with_consent(home_commune):
    with pytest.raises(ValidationError, match="only with your consent"):
        resident_attendee_find_or_create(
            commune=home_commune, full_name="Phạm Văn Hùng", birth_year=1970, consent_given=False
        )
    assert not ResidentAttendee.objects.exists()


def test_a_resident_is_found_again_by_name_and_year_not_by_a_shared_phone(home_commune):
    wife = resident(home_commune, name="Nguyễn Thị Hoa", year=1965, phone="0912 345 678")
    husband = resident(home_commune, name="Trần Văn Hùng", year=1963, phone="0912345678")
    again = resident(home_commune, name="nguyễn thị hoa", year=1965)
    assert wife != husband
    assert again == wife
    assert wife.phone == "+84912345678"


# --- The QR code on the day -------------------------------------------------------------------


def test_the_qr_code_opens_a_form_that_marks_a_resident_present(client, session):
    code = attendance_code(session=session)
    assert attendance_url(code).endswith(attend_url(code))

    page = client.get(attend_url(code), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert session.course.title in page.content.decode()

    response = post_resident(client, code, phone="0987 654 321")
    assert response.status_code == 200
    assert "You are marked present" in response.content.decode()
    row = Attendance.objects.get(session=session)
    assert (row.attended, row.method, row.passed) == (True, CheckInMethod.QR, True)
    assert row.resident.full_name == "Lê Văn Tám"
    assert row.resident.phone == "+84987654321"
    assert row.resident.consent_given_at is not None


def test_a_member_is_recognised_by_phone_and_year_of_birth(client, session, home_commune):
    member = make_member(home_commune, full_name="Võ Thị Lan", birth_year=1990, phone="0903111222")
    code = attendance_code(session=session)

    wrong = client.post(
        attend_url(code),
        {"who": "member", "phone": "0903111222", "birth_year": "1991"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert wrong.status_code == 400
    assert "No team member has this phone number and year of birth" in wrong.content.decode()
    assert not Attendance.objects.exists()

    right = client.post(
        attend_url(code),
        {"who": "member", "phone": "0903 111 222", "birth_year": "1990"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert right.status_code == 200
    assert Attendance.objects.get(session=session).member == member


def test_an_expired_code_marks_nobody(client, session, monkeypatch, settings):
    settings.ATTENDANCE_CODE_MINUTES = 15
    drawn = time.time() - 16 * 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: drawn)
    code = attendance_code(session=session)
    monkeypatch.undo()

    page = client.get(attend_url(code), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 410
    assert "This attendance code has expired" in page.content.decode()
    response = post_resident(client, code)
    assert response.status_code == 410
    assert not Attendance.objects.exists()
    assert not ResidentAttendee.objects.exists()


def test_a_code_of_a_session_that_has_ended_marks_nobody(client, session):
    move_session(session, starts_ago=dt.timedelta(hours=3), hours=2)  # ended an hour ago
    code = attendance_code(session=session)
    response = post_resident(client, code)
    assert response.status_code == 410
    assert "attendance is closed" in response.content.decode()
    assert not Attendance.objects.exists()


def test_a_code_opens_only_shortly_before_the_session(client, course, home_commune):
    later = make_session(course, home_commune, starts_in=dt.timedelta(hours=5))
    response = client.get(attend_url(attendance_code(session=later)), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "opens at" in response.content.decode()


def test_a_forged_or_altered_code_is_refused(client, session):
    code = attendance_code(session=session)
    other = make_session(session.course, session.commune)
    altered = code.replace(session.code, other.code)
    for bad in (altered, "nonsense", session.code):
        response = client.get(attend_url(bad), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert "not valid" in response.content.decode()


def test_a_code_already_used_by_a_person_does_not_mark_them_twice(client, session):
    code = attendance_code(session=session)
    assert post_resident(client, code).status_code == 200

    again = post_resident(client, code, full_name="LÊ VĂN TÁM")
    assert again.status_code == 400
    assert "is already marked present at this session" in again.content.decode()
    assert Attendance.objects.filter(session=session).count() == 1


def test_one_mark_per_person_is_kept_by_the_database(session, home_commune):
    from django.db import IntegrityError, transaction

    person = resident(home_commune)
    Attendance.objects.create(session=session, resident=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.create(session=session, resident=person)


def test_a_person_listed_beforehand_is_marked_present_by_scanning(client, session, home_commune):
    listed = attendance_add(
        session=session, resident=resident(home_commune, name="Lê Văn Tám", year=1958)
    )
    assert post_resident(client, attendance_code(session=session)).status_code == 200
    listed.refresh_from_db()
    assert (listed.attended, listed.method) == (True, CheckInMethod.QR)


def test_a_full_session_refuses_a_walk_in(client, course, home_commune):
    session = make_session(course, home_commune, capacity=1)
    attendance_add(session=session, resident=resident(home_commune))
    response = post_resident(client, attendance_code(session=session))
    assert response.status_code == 400
    assert "This session is full" in response.content.decode()
    assert session.attendances.count() == 1


def test_the_form_needs_consent_and_a_real_year(client, session):
    code = attendance_code(session=session)
    no_consent = post_resident(client, code, consent="")
    assert "only with your consent" in no_consent.content.decode()
    bad_year = post_resident(client, code, birth_year="62")
    assert bad_year.status_code == 400
    assert not Attendance.objects.exists()
    assert not ResidentAttendee.objects.exists()


def test_a_resident_is_told_why_in_vietnamese(client, course, home_commune, monkeypatch):
    session = make_session(course, home_commune, capacity=1)
    code = attendance_code(session=session)
    form = {"who": "resident", "full_name": "Lê Văn Tám", "birth_year": "1958", "consent": "on"}
    assert client.post(attend_url(code), form, HTTP_ACCEPT_LANGUAGE="vi").status_code == 200

    again = client.post(attend_url(code), form, HTTP_ACCEPT_LANGUAGE="vi")
    assert "Lê Văn Tám đã được điểm danh có mặt tại buổi tập huấn này." in again.content.decode()
    full = client.post(
        attend_url(code), {**form, "full_name": "Trần Văn Hai"}, HTTP_ACCEPT_LANGUAGE="vi"
    )
    assert "Buổi tập huấn đã đủ người" in full.content.decode()

    drawn = time.time() - (settings.ATTENDANCE_CODE_MINUTES + 1) * 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: drawn)
    stale = attendance_code(session=session)
    monkeypatch.undo()
    expired = client.get(attend_url(stale), HTTP_ACCEPT_LANGUAGE="vi")
    assert expired.status_code == 410
    assert "Mã điểm danh đã hết hạn" in expired.content.decode()
    assert session.attendances.count() == 1
