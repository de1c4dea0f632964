"""Signing in under attack and sessions that end: a username is locked for one address after
repeated wrong passwords (never for everyone), sessions expire when idle, after a working day,
and when the account is disabled; every sign-in, failure and lock is in the log."""

from __future__ import annotations

import json
import logging
import time
from importlib import import_module

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from cnsc.access.signin import SEEN_AT, SIGNED_IN_AT
from cnsc.core.testing import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"


def attempt(username: str, password: str, ip: str, client: Client | None = None, **headers):
    client = client or Client()
    form = {"username": username, "password": password}
    return client.post(LOGIN, form, REMOTE_ADDR=ip, **headers)


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def test_five_wrong_passwords_lock_the_username_for_that_address_only(official, outsider, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert attempt("official", "wrong-password", ATTACKER).status_code == 200
    locked = attempt("official", "wrong-password", ATTACKER)
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    # Locked even with the right password, from that address...
    assert attempt("official", PASSWORD, ATTACKER).status_code == 429
    # ...while the official still signs in from the office, and others from the attacker's address.
    assert signed_in(attempt("official", PASSWORD, OFFICE))
    assert signed_in(attempt("outsider", PASSWORD, ATTACKER))


def test_the_lock_lifts_after_the_cool_off(official, settings):
    for _ in range(5):
        attempt("official", "wrong-password", ATTACKER)
    assert attempt("official", PASSWORD, ATTACKER).status_code == 429
    locked_at = AccessAttempt.objects.get().attempt_time
    AccessAttempt.objects.update(attempt_time=locked_at - settings.AXES_COOLOFF_TIME)
    assert signed_in(attempt("official", PASSWORD, ATTACKER))


def test_a_success_clears_earlier_failures(official):
    for _ in range(4):
        attempt("official", "wrong-password", OFFICE)
    assert signed_in(attempt("official", PASSWORD, OFFICE))
    for _ in range(4):
        assert attempt("official", "wrong-password", OFFICE).status_code == 200


@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")
def test_behind_the_proxy_the_address_comes_from_the_configured_header(official):
    # Every request reaches the app from the proxy; the header carries the visitor's address.
    for _ in range(5):
        attempt("official", "wrong-password", "10.0.0.2", HTTP_X_REAL_IP=ATTACKER)
    assert attempt("official", PASSWORD, "10.0.0.2", HTTP_X_REAL_IP=ATTACKER).status_code == 429
    assert signed_in(attempt("official", PASSWORD, "10.0.0.2", HTTP_X_REAL_IP=OFFICE))


def test_an_administrator_unlocks_a_user(official, province_staff, client_of):
    for _ in range(5):
        attempt("official", "wrong-password", ATTACKER)
    client_of(province_staff).post(
        reverse("admin:access_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [official.pk]},
    )
    assert signed_in(attempt("official", PASSWORD, ATTACKER))


def test_sign_ins_failures_and_locks_are_logged_without_secrets(official, caplog):
    with caplog.at_level(logging.INFO, logger="cnsc.security"):
        attempt("nobody-of-that-name", "some-password-1", ATTACKER)
        for _ in range(5):
            attempt("official", "wrong-password-2", ATTACKER)
        attempt("official", PASSWORD, OFFICE)
    lines = [r for r in caplog.records if r.name == "cnsc.security"]
    events = [(r.msg, r.user_id, r.ip) for r in lines]
    assert events[0] == ("signin.failed", None, ATTACKER)
    assert events.count(("signin.failed", official.pk, ATTACKER)) == 5
    assert events.count(("signin.locked", official.pk, ATTACKER)) == 1
    assert events[-1] == ("signin.ok", official.pk, OFFICE)
    text = json.dumps([r.__dict__ for r in lines], default=str)
    for secret in ("some-password-1", "wrong-password-2", PASSWORD, "nobody-of-that-name"):
        assert secret not in text


def test_a_session_planted_before_sign_in_is_not_the_one_signed_in(official, settings):
    # Session fixation: someone opens a real session and plants its cookie in the official's
    # browser (on a shared commune computer, say), then waits for the official to sign in.
    store = import_module(settings.SESSION_ENGINE).SessionStore
    planted = store()
    planted["language"] = "vi"
    planted.create()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert signed_in(attempt("official", PASSWORD, OFFICE, client=client))
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != planted.session_key
    assert client.get("/admin/").status_code == 200
    assert not store().exists(planted.session_key)
    planter = Client()
    planter.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert planter.get("/admin/")["Location"].startswith(LOGIN)


def _age(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_an_idle_session_ends(official, client_of, settings, caplog):
    client = client_of(official)
    assert client.get("/admin/").status_code == 200
    _age(client, **{SEEN_AT: settings.SESSION_IDLE_TIMEOUT - 30})
    assert client.get("/admin/").status_code == 200  # still within the idle time; refreshed
    _age(client, **{SEEN_AT: settings.SESSION_IDLE_TIMEOUT + 1})
    with caplog.at_level(logging.INFO, logger="cnsc.security"):
        response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert [(r.msg, r.reason) for r in caplog.records if r.msg == "session.ended"] == [
        ("session.ended", "idle")
    ]


def test_a_busy_session_ends_after_the_working_day(official, client_of, settings):
    client = client_of(official)
    _age(client, **{SIGNED_IN_AT: settings.SESSION_COOKIE_AGE + 1, SEEN_AT: 5})
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_a_disabled_account_is_signed_out_at_its_next_request(official, client_of):
    client = client_of(official)
    assert client.get("/admin/").status_code == 200
    key = client.session.session_key
    official.is_active = False
    official.save()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not Session.objects.filter(session_key=key).exists()
    official.is_active = True
    official.save()
    assert client.get("/admin/").status_code == 302  # the session is gone for good


def test_a_changed_password_signs_out_other_sessions(official, client_of):
    client = client_of(official)
    official.set_password("another-long-passphrase-77")
    official.save()
    assert client.get("/admin/").status_code == 302


def test_sessions_end_with_the_browser(official, settings):
    response = attempt("official", PASSWORD, OFFICE)
    assert signed_in(response)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    # Neither Expires nor Max-Age: the browser forgets the session when it is closed.
    assert cookie.value
    assert (cookie["expires"], cookie["max-age"]) == ("", "")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw-1", "too short"),
        ("password1234", "too common"),
        ("123456789012345", "entirely numeric"),
        ("official-2026", "too similar"),
    ],
)
def test_weak_passwords_are_refused(official, password, reason):
    with pytest.raises(ValidationError, match=reason):
        validate_password(password, user=official)
    validate_password("mưa-rơi-trên-mái-ngói-cũ", user=official)
