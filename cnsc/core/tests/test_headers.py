"""What the browser is told: the deployment checklist passes, a Content-Security-Policy that
allows no inline script or style without the page's nonce, no copy of a signed-in user's pages
in any cache, HSTS and secure cookies in production, and no personal data in addresses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cnsc.core.models import CredentialKind
from cnsc.core.services import credential_issue

ROOT = Path(__file__).resolve().parents[3]

PRODUCTION = {
    "CNSC_ENV": "production",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "cnsc.example.gov.vn",
    "SECRET_KEY": "headers-test-" + "k" * 60,
    "CCCD_HASH_KEY": "headers-test-" + "c" * 40,
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def production(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CNSC_"))}
    env.update(PRODUCTION, DATABASE_URL=f"sqlite:///{tmp_path}/prod.sqlite3")
    env["CNSC_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_deployment_checklist_passes_with_production_settings(tmp_path):
    result = production(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_checklist_wants_a_shared_cache_for_the_rate_limits(tmp_path, monkeypatch):
    monkeypatch.delitem(PRODUCTION, "REDIS_URL")
    result = production(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode != 0
    assert "cnsc.W001" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    code = (
        "import django, json; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "host = {'HTTP_HOST': 'cnsc.example.gov.vn'}\n"
        "secure = Client().get('/healthz', secure=True, **host)\n"
        "plain = Client().get('/healthz', **host)\n"
        "print(json.dumps({'hsts': secure.headers.get('Strict-Transport-Security'),"
        " 'plain': [plain.status_code, plain.headers.get('Location')],"
        " 'cookies': [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SESSION_COOKIE_HTTPONLY]}))\n"
    )
    result = production(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert answer["plain"] == [301, "https://cnsc.example.gov.vn/healthz"]
    assert answer["cookies"] == [True, True, True]


def policy(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    out: dict[str, set[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = set(values)
    return out


def nonce_of(response) -> str | None:
    """The page's nonce; the header names one only when the page used it."""
    nonces = [v for v in policy(response)["script-src"] if v.startswith("'nonce-")]
    return nonces[0][len("'nonce-") : -1] if nonces else None


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


STRICT = {
    "default-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def assert_strict(response) -> None:
    found = policy(response)
    for directive, values in STRICT.items():
        assert found[directive] == values, directive
    nonce = nonce_of(response)
    allowed = {"'self'", f"'nonce-{nonce}'"} if nonce else {"'self'"}
    assert found["script-src"] == allowed
    assert found["style-src"] == allowed


@pytest.mark.django_db
def test_public_pages_carry_the_strict_policy(client, badge):
    for path in (
        reverse("core:verify", args=[badge.code]),
        reverse("core:verify_lookup"),
        reverse("training:handbooks"),
        reverse("admin:logout"),
    ):
        assert_strict(client.get(path))


@pytest.mark.django_db
def test_the_back_office_theme_alone_gets_eval_and_inline_styles(client_of, official, client):
    login = client.get(reverse("admin:login"))
    admin_page = client_of(official).get(reverse("admin:index"))
    two_factor = client_of(official).get(reverse("access:two_factor_setup"))
    for response in (login, admin_page, two_factor):
        assert response.status_code == 200
        found = policy(response)
        for directive, values in STRICT.items():
            assert found[directive] == values, directive
        assert "'unsafe-eval'" in found["script-src"]
        assert "'unsafe-inline'" not in found["script-src"]
        assert found["style-src"] == {"'self'", "'unsafe-inline'"}
    # The dashboards are back office too, but drawn without the theme: strict.
    assert_strict(client_of(official).get("/dashboard/c/25747/"))


class InlineFinder(HTMLParser):
    """Inline scripts and styles, style attributes and event-handler attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        inline = tag == "style" or (tag == "script" and "src" not in attributes)
        if inline and attributes.get("type") not in ("application/json", "application/ld+json"):
            self.found.append((tag, attributes))
        if "style" in attributes or any(name.startswith("on") for name in attributes):
            self.found.append((tag, attributes))


@pytest.mark.django_db
def test_our_own_pages_inline_nothing_without_the_nonce(client, client_of, official, badge):
    pages = [
        client.get(reverse("core:verify", args=[badge.code])),
        client.get(reverse("core:verify", args=["XXXXXXXXXX"])),
        client.get(reverse("core:verify_lookup")),
        client.get(reverse("training:handbooks")),
        client.get(reverse("training:attend", args=["not-a-code"])),
        client_of(official).get("/dashboard/c/25747/"),
        client_of(official).get("/dashboard/p/99/"),
    ]
    for response in pages:
        finder = InlineFinder()
        finder.feed(response.content.decode())
        nonce = nonce_of(response)
        unnonced = [
            (tag, attrs) for tag, attrs in finder.found if not nonce or attrs.get("nonce") != nonce
        ]
        assert not unnonced, (response.wsgi_request.path, unnonced)


@pytest.mark.django_db
def test_nothing_shown_to_a_signed_in_user_or_api_client_is_stored(
    client_of, official, province_staff, hamlet
):
    from cnsc.dashboard.services import api_client_create
    from cnsc.dashboard.units import resolve

    _client, token = api_client_create(name="IOC", unit_ids=[resolve("79").id])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    responses = {
        "dashboard": client_of(official).get("/dashboard/c/25747/"),
        "export": client_of(official).get("/dashboard/c/25747/export/hamlets.xlsx"),
        "import form": client_of(official).get(reverse("outreach:household_import")),
        "province": client_of(province_staff).get("/dashboard/p/79/"),
        "admin": client_of(official).get(reverse("admin:geo_hamlet_changelist")),
        "api": api.get(reverse("api:indicators")),
    }
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
        assert "private" in response["Cache-Control"], name


# What an address may carry: random codes, official unit codes, row ids and technical names.
# Never a phone number, a CCCD or a name (see DOMAIN.md, personal data).
SAFE_PARAMETERS = {
    "code",
    "commune",
    "province",
    "kind",
    "table",
    "fmt",
    "pk",
    "id",
    "object_id",
    "content_type_id",
    "app_label",
    "path",
    "url",
}


def parameters(patterns, prefix: str = ""):
    for entry in patterns:
        pattern = entry.pattern
        names = list(getattr(pattern, "converters", {}) or [])
        names += list(re.compile(str(pattern)).groupindex) if not names else []
        for name in names:
            yield prefix + str(pattern), name
        if isinstance(entry, URLResolver):
            yield from parameters(entry.url_patterns, prefix + str(pattern))
        else:
            assert isinstance(entry, URLPattern)


def test_addresses_carry_no_personal_data():
    unsafe = {(route, name) for route, name in parameters(get_resolver().url_patterns)}
    unsafe = {(route, name) for route, name in unsafe if name not in SAFE_PARAMETERS}
    assert not unsafe, "review these URL parameters for personal data: " + repr(sorted(unsafe))
    for route in {route for route, _name in parameters(get_resolver().url_patterns)}:
        assert not re.search(r"phone|cccd|name|birth|dien-thoai", route, re.IGNORECASE), route


@pytest.mark.django_db
def test_search_terms_stay_out_of_the_logs(client_of, official, outsider, hamlet, caplog):
    term = "?q=Nguy%E1%BB%85n+V%C4%83n+A+0912345678"
    with caplog.at_level(logging.INFO):
        client_of(official).get(reverse("admin:outreach_resident_changelist") + term)
        client_of(outsider).get(reverse("admin:geo_hamlet_change", args=[hamlet.pk]) + term)
    lines = [r for r in caplog.records if r.name.startswith("cnsc")]
    assert {r.msg for r in lines} >= {"request", "access.denied"}
    text = json.dumps([r.__dict__ for r in lines], default=str)
    assert "0912345678" not in text
    assert "Nguy" not in text
