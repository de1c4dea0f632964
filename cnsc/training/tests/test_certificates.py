"""Certificates: issued only on a pass, printed on landscape A4 with a QR code that opens the
public verify page, revoked with a reason."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from reportlab.lib.units import mm

from cnsc.core.models import Credential, CredentialKind, format_code
from cnsc.core.services import verify_url
from cnsc.core.testing_pdf import pdf_qr_codes, pdf_text, pdf_title
from cnsc.team.tests.factories import make_member
from cnsc.training.certificates import (
    certificate_issue,
    certificate_revoke,
    certificates_issue_for_session,
    certificates_pdf,
    session_certificates,
)
from cnsc.training.models import Attendance
from cnsc.training.services import (
    attendance_add,
    attendance_record,
    resident_attendee_find_or_create,
)
from cnsc.training.tests.factories import make_course, make_score_course, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def resident(commune, name, year=1960):
    return resident_attendee_find_or_create(
        commune=commune, full_name=name, birth_year=year, phone="0912 000 111", consent_given=True
    )


@pytest.fixture
def session(home_province, home_commune):
    return make_session(
        make_score_course(home_province, title="Nhận diện lừa đảo qua mạng", pass_score=70),
        home_commune,
    )


def passed(session, name, score=85):
    row = attendance_add(session=session, resident=resident(session.commune, name))
    return attendance_record(attendance=row, attended=True, score=score)


def verdict(response) -> str:
    found = re.search(r'<h2 class="verdict-title">([^<]*)</h2>', response.content.decode())
    assert found
    return found.group(1)


def verify_page(client, code):
    return client.get(reverse("core:verify", args=[code]), HTTP_ACCEPT_LANGUAGE="en")


def test_a_pass_gets_a_certificate_with_the_public_fields_only(session):
    row = passed(session, "Nguyễn Thị Ánh Tuyết")
    credential = certificate_issue(attendance=row)

    assert credential.kind == CredentialKind.CERTIFICATE
    assert credential.holder_name == "Nguyễn Thị Ánh Tuyết"
    assert credential.title == "Nhận diện lừa đảo qua mạng"
    assert credential.issuer == "Phường Thủ Dầu Một"
    assert credential.subject == row
    assert credential.valid_until is None
    row.refresh_from_db()
    assert row.certificate == credential


def test_no_certificate_for_someone_who_did_not_pass(session, home_commune):
    failed = passed(session, "Điểm thấp", score=50)
    absent = attendance_add(session=session, resident=resident(home_commune, "Vắng mặt"))
    for row in (failed, absent):
        with pytest.raises(ValidationError, match=r"has not passed .* Record their result first"):
            certificate_issue(attendance=row)
    assert not Credential.objects.exists()


def test_the_database_refuses_a_certificate_without_a_pass(session):
    row = passed(session, "Đã đậu")
    certificate_issue(attendance=row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.filter(pk=row.pk).update(passed=False)


def test_one_valid_certificate_per_attendance(session):
    row = passed(session, "Một lần thôi")
    first = certificate_issue(attendance=row)
    with pytest.raises(ValidationError, match=re.escape(format_code(first.code))):
        certificate_issue(attendance=row)
    assert Credential.objects.count() == 1


def test_a_result_cannot_change_under_a_valid_certificate(session):
    row = passed(session, "Đã có chứng nhận", score=90)
    certificate_issue(attendance=row)
    with pytest.raises(ValidationError, match="Revoke it before changing the result"):
        attendance_record(attendance=row, attended=True, score=40)
    row.refresh_from_db()
    assert (row.score, row.passed) == (90, True)


def test_the_certificate_pdf_is_landscape_a4_in_vietnamese_with_a_working_qr_code(session):
    row = passed(session, "Trương Mỹ Hạnh")
    credential = certificate_issue(attendance=row)
    content = certificates_pdf(session_certificates(session), title="Giấy chứng nhận")

    page = PdfReader(io.BytesIO(content)).pages[0]
    assert round(float(page.mediabox.width) / mm) == 297
    assert round(float(page.mediabox.height) / mm) == 210
    text = " ".join(pdf_text(content)[0].split())
    for phrase in (
        "Trương Mỹ Hạnh",
        "Nhận diện lừa đảo qua mạng",
        "PHƯỜNG THỦ DẦU MỘT",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        format_code(credential.code),
        timezone.localtime(session.starts_at).strftime("%d/%m/%Y"),
    ):
        assert phrase in text, phrase
    assert pdf_qr_codes(content) == [[verify_url(credential.code)]]
    assert pdf_title(content) == "Giấy chứng nhận"


def baselines(content: bytes) -> list[tuple[float, str]]:
    """Each piece of text on the first page, in drawing order, with the height of its baseline
    above the bottom of the page in points."""
    found: list[tuple[float, str]] = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            found.append((tm[4] * cm[1] + tm[5] * cm[3] + cm[5], text.strip()))

    PdfReader(io.BytesIO(content)).pages[0].extract_text(visitor_text=visit)
    return found


def test_the_longest_course_title_and_place_stay_clear_of_the_signature(home_commune):
    title = (
        "Bồi dưỡng kỹ năng hỗ trợ người dân sử dụng dịch vụ công trực tuyến toàn trình, thanh "
        "toán không dùng tiền mặt, chữ ký số từ xa và phòng chống lừa đảo trên không gian mạng "
        "cho thành viên Tổ công nghệ"
    )
    assert len(title) == 198  # titles run to 200 characters
    place = (
        "Hội trường Trung tâm Văn hóa - Thể thao và Truyền thanh phường Thủ Dầu Một, số 1 đường "
        "Cách Mạng Tháng Tám, khu phố 1, tầng 3, phòng họp lớn"
    )
    session = make_session(make_score_course(home_commune, title=title), home_commune, place=place)
    credential = certificate_issue(attendance=passed(session, "Công Tôn Nữ Thị Hoàng Phương Thảo"))
    content = certificates_pdf(session_certificates(session), title="Giấy chứng nhận")

    text = " ".join(pdf_text(content)[0].split())
    assert title in text
    assert place in text
    pieces = baselines(content)
    texts = [piece for _y, piece in pieces]
    completed = texts.index("đã hoàn thành khóa tập huấn")
    issued = next(
        i for i, piece in enumerate(texts) if piece.endswith(f"năm {credential.issued_on.year}")
    )
    issued_at = pieces[issued][0]
    course_and_place = pieces[completed + 1 : issued]
    assert len(course_and_place) >= 2
    # The lowest of those lines sits at least a line (11 pt) above "<place>, ngày …".
    assert min(y for y, _piece in course_and_place) >= issued_at + 11


def test_a_session_issues_and_prints_certificates_for_everyone_who_passed(session):
    names = ["Lê Văn Ba", "Phạm Thị Bốn", "Đặng Văn Năm"]
    for name in names:
        passed(session, name)
    passed(session, "Chưa đạt", score=10)

    issued = certificates_issue_for_session(session=session)
    assert sorted(a.person_name for a in issued) == sorted(names)
    assert certificates_issue_for_session(session=session) == []  # twice changes nothing

    content = certificates_pdf(session_certificates(session), title="Lớp")
    pages = pdf_text(content)
    assert len(pages) == 3
    # By given name, as Vietnamese lists are kept: Ba, Bốn, Năm.
    assert [next(n for n in names if n in p) for p in pages] == names
    assert all(len(codes) == 1 for codes in pdf_qr_codes(content))


def test_a_session_where_nobody_passed_issues_nothing(session):
    passed(session, "Chưa đạt", score=10)
    with pytest.raises(ValidationError, match="Nobody has passed this session yet"):
        certificates_issue_for_session(session=session)
    assert not Credential.objects.exists()


def test_revoking_needs_a_reason_and_allows_a_new_certificate(session):
    row = passed(session, "Ghi sai tên")
    first = certificate_issue(attendance=row)
    with pytest.raises(ValidationError, match="Say why"):
        certificate_revoke(attendance=row, reason=" ")
    certificate_revoke(attendance=row, reason="Tên in sai")
    first.refresh_from_db()
    assert first.revoked_reason == "Tên in sai"
    assert session_certificates(session) == []

    second = certificate_issue(attendance=row)
    assert second != first
    with pytest.raises(ValidationError, match="no valid certificate"):
        certificate_revoke(attendance=passed(session, "Chưa có"), reason="x")


# --- The public verify page -------------------------------------------------------------------


def test_the_verify_page_shows_a_valid_certificate_with_name_course_and_date_only(
    client, home_commune
):
    session = make_session(make_course(home_commune, title="Dùng ví điện tử an toàn"), home_commune)
    member = make_member(
        home_commune, full_name="Hoàng Văn Sáu", birth_year=1977, phone="0977123456"
    )
    row = attendance_record(
        attendance=attendance_add(session=session, member=member), attended=True
    )
    credential = certificate_issue(attendance=row)

    response = verify_page(client, credential.code)
    assert response.status_code == 200
    assert verdict(response) == "Valid"
    html = response.content.decode()
    assert "Hoàng Văn Sáu" in html
    assert "Dùng ví điện tử an toàn" in html
    assert "Phường Thủ Dầu Một" in html
    assert credential.issued_on.strftime("%d/%m/%Y") in html
    for private in ("1977", "0977", "+8497", "123456", session.place):
        assert private not in html


def test_the_verify_page_says_revoked_without_the_reason(client, session):
    row = passed(session, "Bị thu hồi")
    credential = certificate_issue(attendance=row)
    certificate_revoke(attendance=row, reason="Cấp nhầm người")

    response = verify_page(client, credential.code)
    assert verdict(response) == "Revoked"
    html = response.content.decode()
    assert "Bị thu hồi" in html
    for private in ("Cấp nhầm người", "1960", "0912", "+84912", session.place):
        assert private not in html


def test_the_verify_page_does_not_know_a_made_up_code(client, session):
    certificate_issue(attendance=passed(session, "Có thật"))
    response = verify_page(client, "ABCD-EFGH-JKMN-PQRS")
    assert response.status_code == 404
    assert verdict(response) == "Not found"
    assert "Có thật" not in response.content.decode()
