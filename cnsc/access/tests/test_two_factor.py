"""Two-factor sign-in as a user meets it: password, then a code from the phone (or a recovery
code), set up once with a QR code; nothing of the back office before the code."""

from __future__ import annotations

import base64
import io
import logging
import re
import time
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import zxingcpp
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from cnsc.access.services import recovery_codes_replace
from cnsc.core.testing import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def english(settings):
    """Pages are read in their English source wording."""
    settings.LANGUAGE_CODE = "en"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the user's app shows now (or ``steps_ahead`` thirty-second steps later: a code once
    accepted is refused again, so a second sign-in within the same step uses the next one)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in(user, **extra) -> Client:
    client = Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD}, **extra)
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def enrolled(user) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    recovery_codes_replace(user=user)
    return device


def test_province_staff_set_up_an_authenticator_at_first_sign_in(province_staff, caplog):
    client = sign_in(province_staff)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("access:two_factor_setup"))
    page = response.content.decode()

    # The QR code on the page is what an authenticator app scans.
    data_uri = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    scanned = zxingcpp.read_barcode(Image.open(io.BytesIO(base64.b64decode(data_uri))))
    uri = urlparse(scanned.text)
    assert uri.scheme == "otpauth"
    assert unquote(uri.path) == "/CNSC:province"
    secret = parse_qs(uri.query)["secret"][0]
    device = TOTPDevice.objects.get(user=province_staff)
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key
    assert not device.confirmed

    with caplog.at_level(logging.INFO, logger="cnsc.security"):
        response = client.post(
            reverse("access:two_factor_setup"), {"code": code_for(device), "next": "/admin/"}
        )
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", response.content.decode())
    assert len(codes) == 10
    assert "no-store" in response["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    enrolled_lines = [r for r in caplog.records if r.msg == "signin.second_factor_enrolled"]
    assert enrolled_lines[0].user_id == province_staff.pk


def test_a_wrong_code_does_not_confirm_the_authenticator(province_staff):
    client = sign_in(province_staff)
    client.get(reverse("access:two_factor_setup"))
    response = client.post(reverse("access:two_factor_setup"), {"code": "000000"})
    assert "This code is not right" in response.content.decode()
    assert not TOTPDevice.objects.get(user=province_staff).confirmed
    assert client.get("/admin/").status_code == 302


def test_a_reload_of_the_setup_page_keeps_the_secret(province_staff):
    client = sign_in(province_staff)
    first = client.get(reverse("access:two_factor_setup")).content.decode()
    second = client.get(reverse("access:two_factor_setup")).content.decode()
    secret = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
    assert secret.search(first).group(1) == secret.search(second).group(1)
    assert TOTPDevice.objects.filter(user=province_staff).count() == 1


def test_with_an_authenticator_the_code_is_asked_after_the_password(province_staff, caplog):
    device = enrolled(province_staff)
    client = sign_in(province_staff)
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == reverse("access:two_factor") + "?next=%2Fdashboard%2F"

    with caplog.at_level(logging.INFO, logger="cnsc.security"):
        wrong = client.post(reverse("access:two_factor"), {"code": "123 456", "next": "/x/"})
    assert "This code is not right" in wrong.content.decode()
    failed = [r for r in caplog.records if r.msg == "signin.second_factor_failed"]
    assert failed[0].user_id == province_staff.pk
    assert failed[0].ip == "127.0.0.1"

    # One wrong code makes the next attempt wait a second (django-otp's throttling).
    time.sleep(1.1)
    key_before = client.session.session_key
    right = client.post(
        reverse("access:two_factor"), {"code": code_for(device), "next": "/dashboard/"}
    )
    assert right.status_code == 302
    assert right["Location"] == "/dashboard/"
    assert client.session.session_key != key_before
    assert client.get("/dashboard/", follow=True).redirect_chain == [("/dashboard/p/79/", 302)]


def test_codes_tried_in_a_row_are_throttled(province_staff):
    device = enrolled(province_staff)
    client = sign_in(province_staff)
    client.post(reverse("access:two_factor"), {"code": "000000"})
    response = client.post(reverse("access:two_factor"), {"code": code_for(device)})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_signs_in_once(province_staff):
    enrolled(province_staff)
    code = StaticToken.objects.filter(device__user=province_staff).first().token
    client = sign_in(province_staff)
    response = client.post(
        reverse("access:two_factor"), {"code": f" {code[:5].upper()}-{code[5:]} "}, follow=True
    )
    assert response.status_code == 200
    assert "9 codes are left" in response.content.decode()

    again = sign_in(province_staff)
    refused = again.post(reverse("access:two_factor"), {"code": code})
    assert "This code is not right" in refused.content.decode()


def test_new_recovery_codes_replace_the_old_ones(province_staff, client_of):
    enrolled(province_staff)
    tokens = StaticToken.objects.filter(device__user=province_staff)
    old = set(tokens.values_list("token", flat=True))
    client = client_of(province_staff)
    page = client.get(reverse("access:recovery_codes")).content.decode()
    assert "10 recovery codes are left" in page
    response = client.post(reverse("access:recovery_codes"))
    listed = re.findall(r"<li>([a-z2-9-]{11})</li>", response.content.decode())
    shown = {code.replace("-", "") for code in listed}
    stored = set(tokens.values_list("token", flat=True))
    assert shown == stored
    assert len(stored) == 10
    assert not stored & old


def test_a_new_phone_replaces_the_old_authenticator_only_after_a_code(province_staff, client_of):
    old = enrolled(province_staff)
    unverified = sign_in(province_staff)
    assert unverified.get(reverse("access:two_factor_setup"))["Location"].startswith(
        reverse("access:two_factor")
    )

    client = client_of(province_staff)
    client.get(reverse("access:two_factor_setup"))
    new = TOTPDevice.objects.get(user=province_staff, confirmed=False)
    client.post(reverse("access:two_factor_setup"), {"code": code_for(new)})
    assert list(TOTPDevice.objects.filter(user=province_staff)) == [new]
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()


@pytest.mark.parametrize("who", ["superuser", "province_staff"])
def test_superusers_and_province_staff_must_use_it(request, who):
    user = request.getfixturevalue(who)
    client = sign_in(user)
    for path in ("/admin/", "/dashboard/", reverse("admin:access_user_changelist")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("access:two_factor"))


def test_commune_officials_follow_the_deployment_setting(official):
    assert sign_in(official).get("/admin/").status_code == 200
    with override_settings(OTP_REQUIRED_FOR_COMMUNE_OFFICIALS=True):
        response = sign_in(official).get("/admin/", follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("access:two_factor_setup"))


def test_an_official_who_set_it_up_is_asked_for_a_code_anyway(official):
    enrolled(official)
    response = sign_in(official).get("/admin/")
    assert response["Location"].startswith(reverse("access:two_factor"))


@override_settings(OTP_REQUIRED=False)
def test_in_development_demo_accounts_sign_in_with_the_password_alone(province_staff, superuser):
    for user in (province_staff, superuser):
        assert sign_in(user).get("/admin/").status_code == 200


def test_before_the_code_only_sign_out_and_the_code_pages_answer(province_staff):
    enrolled(province_staff)
    client = sign_in(province_staff)
    assert client.get(reverse("access:two_factor")).status_code == 200
    assert client.get(reverse("access:recovery_codes")).status_code == 302
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 200
    assert client.get("/admin/")["Location"].startswith(LOGIN)


def test_next_must_stay_on_this_site(province_staff):
    device = enrolled(province_staff)
    client = sign_in(province_staff)
    response = client.post(
        reverse("access:two_factor"), {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/admin/"


def test_province_staff_reset_a_lost_phone_of_a_user_in_their_province(
    province_staff, official, outsider, client_of
):
    for user in (official, outsider):
        enrolled(user)
    client = client_of(province_staff)
    response = client.post(
        reverse("admin:access_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [official.pk, outsider.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=official).exists()
    assert not StaticToken.objects.filter(device__user=official).exists()
    # Another province's user is outside the list, so outside the action.
    assert TOTPDevice.objects.filter(user=outsider).exists()
