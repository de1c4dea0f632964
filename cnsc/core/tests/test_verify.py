"""The public verify page, as a resident scanning a badge sees it."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cnsc.core.models import CREDENTIAL_CODE_LENGTH, Credential, CredentialKind, format_code
from cnsc.core.services import credential_issue, credential_revoke, verify_url

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def badge(hamlet):
    return credential_issue(
        kind=CredentialKind.BADGE,
        holder_name="Nguyễn Thị Ánh Tuyết",
        title="Tổ viên · Tổ CNSC Khu phố 1",
        issuer="Phường Thủ Dầu Một",
        valid_until=timezone.localdate() + dt.timedelta(days=365),
        subject=hamlet,
    )


def page(client, code, **extra):
    # English, the source language, so the assertions hold whatever the catalogue says.
    return client.get(reverse("core:verify", args=[code]), HTTP_ACCEPT_LANGUAGE="en", **extra)


def verdict(response) -> str:
    """The big word at the top of the page."""
    found = re.search(r'<h2 class="verdict-title">([^<]*)</h2>', response.content.decode())
    assert found, "the page has no verdict"
    return found.group(1)


def test_a_valid_badge_shows_its_holder_title_issuer_and_dates(client, badge):
    response = page(client, badge.code)
    assert response.status_code == 200
    assert verdict(response) == "Valid"
    html = response.content.decode()
    assert "Nguyễn Thị Ánh Tuyết" in html
    assert "Tổ viên · Tổ CNSC Khu phố 1" in html
    assert "Phường Thủ Dầu Một" in html
    assert badge.valid_until.strftime("%d/%m/%Y") in html
    assert format_code(badge.code) in html
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"


def test_a_credential_keeps_only_what_the_page_may_show(hamlet):
    """No phone, birth year or identity number can reach the page: the row has no place for it."""
    stored = {f.name for f in Credential._meta.concrete_fields}
    assert stored == {
        "id",
        "code",
        "kind",
        "holder_name",
        "title",
        "issuer",
        "issued_on",
        "valid_until",
        "revoked_at",
        "revoked_reason",
        "content_type",
        "object_id",
        "created_at",
    }


def test_a_credential_without_an_end_date_says_so(client, hamlet):
    credential = credential_issue(
        kind=CredentialKind.BADGE,
        holder_name="Trần Văn Bình",
        title="Tổ trưởng · Tổ CNSC Khu phố 1",
        issuer="Phường Thủ Dầu Một",
        valid_until=None,
        subject=hamlet,
    )
    response = page(client, credential.code)
    assert verdict(response) == "Valid"
    assert "No end date" in response.content.decode()


def test_the_page_is_in_vietnamese_unless_the_phone_asks_otherwise(client, badge):
    response = client.get(reverse("core:verify", args=[badge.code]))
    assert '<html lang="vi">' in response.content.decode()


def test_an_expired_badge_says_so_with_its_last_day(client, hamlet):
    last_day = timezone.localdate() - dt.timedelta(days=1)
    credential = credential_issue(
        kind=CredentialKind.BADGE,
        holder_name="Lê Thị Hồng",
        title="Tổ phó · Tổ CNSC Ấp 3",
        issuer="Phường Phú Lợi",
        valid_until=last_day,
        issued_on=last_day - dt.timedelta(days=300),
        subject=hamlet,
    )
    response = page(client, credential.code)
    assert response.status_code == 200
    assert verdict(response) == "Expired"
    html = response.content.decode()
    assert f"expired on {last_day:%d/%m/%Y}" in html
    assert "Member badge" in html
    assert "Lê Thị Hồng" in html


def test_a_badge_is_valid_through_its_last_day(client, hamlet):
    credential = credential_issue(
        kind=CredentialKind.BADGE,
        holder_name="Lê Thị Hồng",
        title="Tổ viên",
        issuer="Phường Phú Lợi",
        valid_until=timezone.localdate(),
        subject=hamlet,
    )
    assert verdict(page(client, credential.code)) == "Valid"


def test_revoking_takes_effect_on_the_very_next_scan(client, badge):
    assert verdict(page(client, badge.code)) == "Valid"

    credential_revoke(credential=badge, reason="Left the team")

    response = page(client, badge.code)
    assert response.status_code == 200
    assert verdict(response) == "Revoked"
    html = response.content.decode()
    assert f"Revoked on {timezone.localdate():%d/%m/%Y}: no longer valid" in html
    # The reason is for the back office, not the public.
    assert "Left the team" not in html


def test_revoking_twice_keeps_the_first_date_and_reason(badge):
    first = credential_revoke(credential=badge, reason="Left the team")
    again = credential_revoke(credential=badge, reason="Another reason")
    assert again.revoked_at == first.revoked_at
    assert again.revoked_reason == "Left the team"


def test_a_revocation_needs_a_reason(badge):
    with pytest.raises(ValidationError):
        credential_revoke(credential=badge, reason="  ")
    badge.refresh_from_db()
    assert badge.revoked_at is None


def test_an_unknown_code_answers_404_with_a_not_found_page(client, badge):
    other = "Z" * CREDENTIAL_CODE_LENGTH
    response = page(client, other)
    assert response.status_code == 404
    assert verdict(response) == "Not found"
    html = response.content.decode()
    assert "Nguyễn" not in html
    assert "no-store" in response["Cache-Control"]


def test_a_code_typed_from_paper_in_lower_case_with_dashes_is_found(client, badge):
    typed = format_code(badge.code).lower()
    assert page(client, typed).status_code == 200

    response = client.get(reverse("core:verify_lookup"), {"code": f" {typed} "})
    assert response.status_code == 302
    assert response["Location"] == reverse("core:verify", args=[badge.code])


def test_the_lookup_form_explains_a_code_that_cannot_be_one(client):
    response = client.get(reverse("core:verify_lookup"), {"code": "???"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "letters and digits only" in response.content.decode()


def test_too_many_checks_from_one_address_answer_429(client, badge, settings):
    # A limit per day, so the test cannot straddle the edge of a rate window.
    settings.VERIFY_RATE_LIMIT = "3/d"
    for _ in range(3):
        assert page(client, badge.code).status_code == 200

    response = page(client, badge.code)
    assert response.status_code == 429
    assert verdict(response) == "Too many checks"
    assert "Nguyễn" not in response.content.decode()
    # Unknown codes count too: guessing is what the limit is for.
    assert page(client, "Z" * CREDENTIAL_CODE_LENGTH).status_code == 429
    # Another visitor is still served.
    assert page(client, badge.code, REMOTE_ADDR="10.1.2.3").status_code == 200


def test_only_reading_is_allowed(client, badge):
    assert client.post(reverse("core:verify", args=[badge.code])).status_code == 405


def test_the_verify_url_is_absolute_on_the_public_address(settings):
    settings.PUBLIC_BASE_URL = "https://cnsc.example.gov.vn"
    assert verify_url("ABCDEFGHJKMNPQRS") == "https://cnsc.example.gov.vn/verify/ABCDEFGHJKMNPQRS"


def test_codes_are_long_random_and_from_the_readable_alphabet(hamlet):
    codes = {
        credential_issue(
            kind=CredentialKind.CERTIFICATE,
            holder_name="Phạm Minh Châu",
            title="Kỹ năng số cơ bản",
            issuer="Phường Thủ Dầu Một",
            valid_until=None,
            subject=hamlet,
        ).code
        for _ in range(20)
    }
    assert len(codes) == 20
    assert all(len(c) == CREDENTIAL_CODE_LENGTH for c in codes)
    assert not any(set(c) & set("01OIL") for c in codes)


def test_a_certificate_shows_the_course_and_date_and_no_validity_line(client, hamlet):
    certificate = credential_issue(
        kind=CredentialKind.CERTIFICATE,
        holder_name="Phạm Minh Châu",
        title="Kỹ năng số cơ bản",
        issuer="Phường Thủ Dầu Một",
        valid_until=None,
        subject=hamlet,
        issued_on=dt.date(2025, 9, 12),
    )
    response = page(client, certificate.code)
    assert verdict(response) == "Valid"
    html = response.content.decode()
    assert "Course" in html
    assert "Kỹ năng số cơ bản" in html
    assert "12/09/2025" in html
    assert "Valid until" not in html


def test_a_credential_cannot_end_before_it_was_issued(hamlet):
    with pytest.raises(ValidationError):
        credential_issue(
            kind=CredentialKind.BADGE,
            holder_name="Phạm Minh Châu",
            title="Tổ viên",
            issuer="Phường Thủ Dầu Một",
            valid_until=timezone.localdate() - dt.timedelta(days=1),
            subject=hamlet,
        )
    assert not Credential.objects.exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PUBLIC_BASE_URL": "cnsc.example.gov.vn"}, "PUBLIC_BASE_URL must be a scheme and host"),
        ({"PUBLIC_BASE_URL": "https://cnsc.example.gov.vn/verify"}, "PUBLIC_BASE_URL must be"),
        (
            {
                "CNSC_ENV": "production",
                "SECRET_KEY": "k" * 60,
                "CCCD_HASH_KEY": "c" * 40,
                "ALLOWED_HOSTS": "cnsc.example.gov.vn",
                "DATABASE_URL": "sqlite:///x.db",
                "PUBLIC_BASE_URL": "http://cnsc.example.gov.vn",
            },
            "PUBLIC_BASE_URL must use https in production",
        ),
        ({"VERIFY_RATE_LIMIT": "lots"}, "VERIFY_RATE_LIMIT must look like 30/m"),
        ({"API_RATE_LIMIT": "600 a minute"}, "API_RATE_LIMIT must look like 600/m"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must look like redis://"),
    ],
)
def test_a_bad_public_address_or_rate_stops_the_start(tmp_path, env, message):
    """A QR code printed with a wrong address cannot be recalled: refuse to start instead."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CNSC_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CNSC_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]
