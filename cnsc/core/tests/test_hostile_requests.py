"""Every route fed hostile input: path parameters and query strings with NUL bytes, overlong
text, decomposed letters, path tricks and numbers no column holds; oversized and over-many form
fields and files. The answer may be 200, a redirect, 400, 403, 404, 405 or 413; never 500. The
routes come from the URL configuration, so a new one is attacked without being listed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cnsc.dashboard.services import api_client_create
from cnsc.geo.models import AdminUnit, Hierarchy, Level

pytestmark = pytest.mark.django_db

HOSTILE = [
    "\x00",
    "A" * 5000,
    "../../../../etc/passwd",
    "%00%2e%2e%2f",
    "' OR 1=1 --",
    "Nguye\u0302\u0303n Va\u0306n An",  # decomposed
    "\u202egnp.exe",
    "𝕏😀",
    "9" * 5000,
    "-1",
    "²",  # a digit to str.isdigit, not to int()
    "1e309",
    " ",
]
QUERY_NAMES = [
    "q",
    "o",
    "p",
    "e",
    "page",
    "page_size",
    "period",
    "start",
    "end",
    "indicator",
    "unit",
    "level",
    "within",
    "period_type",
    "sort",
    "dir",
    "group",
    "code",
    "xa",
    "commune",
    "next",
]
ALLOWED = {200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 409, 413, 429}


def routes() -> list[tuple[str, list[str]]]:
    """(pattern as a regex-free template with {name} placeholders, parameter names)."""
    found: list[tuple[str, list[str]]] = []

    def walk(patterns: Any, prefix: str) -> None:
        for entry in patterns:
            text = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + text)
            elif isinstance(entry, URLPattern):
                found.append((prefix + text, list(entry.pattern.converters)))

    walk(get_resolver().url_patterns, "")
    result = []
    for pattern, names in found:
        if pattern.startswith("^") or "(?P" in pattern:
            # Regex routes (Django's own static and i18n): the admin's are reached below.
            pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", pattern).strip("^$")
            names = re.findall(r"<(\w+)>", pattern)
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
        if "(" in template or "\\" in template:
            continue
        result.append(("/" + template, names))
    return result


def fill(template: str, names: list[str], value: str) -> str:
    safe = value.replace("/", "%2F") if "{path" not in template else value
    return template.format(**dict.fromkeys(names, safe))


@pytest.fixture
def clients(superuser, official, hamlet) -> dict[str, Client]:
    signed_in = {}
    for name, user in (("superuser", superuser), ("official", official)):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        signed_in[name] = client
    signed_in["anonymous"] = Client(raise_request_exception=False)
    return signed_in


class Failures(list[str]):
    """Every unexpected answer of a sweep, reported together at its end."""

    def check(self, response: Any, what: str) -> None:
        if response.status_code not in ALLOWED:
            self.append(f"{response.status_code} {what}")

    def assert_none(self) -> None:
        assert not self, "\n".join(self[:60])


def test_every_route_with_hostile_path_values_never_answers_500(clients):
    failures = Failures()
    templates = routes()
    assert len(templates) > 40
    for template, names in templates:
        if not names:
            continue
        for value in HOSTILE:
            url = fill(template, names, value)
            for who in ("superuser", "anonymous"):
                failures.check(clients[who].get(url), f"GET {url[:80]!r} as {who}")
    failures.assert_none()


def test_every_route_with_hostile_query_strings_never_answers_500(clients):
    commune = AdminUnit.objects.get(hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code="25747")
    _client, token = api_client_create(name="IOC", unit_ids=[commune.province_id])
    failures = Failures()
    for template, names in routes():
        # Routes with parameters get a real code where one is known, else a harmless word.
        url = template.format(**dict.fromkeys(names, "25747"))
        for value in HOSTILE:
            query = dict.fromkeys(QUERY_NAMES, value)
            for who in ("superuser", "official"):
                failures.check(
                    clients[who].get(url, query), f"GET {url} ?…={value[:20]!r} as {who}"
                )
            if url.startswith("/api/"):
                response = clients["anonymous"].get(
                    url, query, headers={"authorization": f"Bearer {token}"}
                )
                failures.check(response, f"API {url} ?…={value[:20]!r}")
    failures.assert_none()


def test_admin_changelists_searched_sorted_and_paged_with_hostile_values(clients):
    changelists = sorted(
        f"{model._meta.app_label}_{model._meta.model_name}_changelist"
        for model in admin.site._registry
    )
    assert changelists
    failures = Failures()
    for name in changelists:
        url = reverse(f"admin:{name}")
        for value in HOSTILE:
            for query in ({"q": value}, {"o": value}, {"p": value}, {"id__gt": value}):
                failures.check(clients["superuser"].get(url, query), f"{name} {query!r}"[:120])
    failures.assert_none()


# --- Oversized and over-many ----------------------------------------------------------------


def test_a_form_body_over_the_memory_limit_is_400(clients):
    body = "x=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    for who in ("anonymous", "official"):
        response = clients[who].post(
            reverse("admin:login"), body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400


def test_too_many_fields_or_files_is_400(clients, hamlet):
    fields = {f"f{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    assert (
        clients["official"].post(reverse("admin:team_member_changelist"), fields).status_code == 400
    )
    files = {
        f"file{n}": SimpleUploadedFile(f"{n}.csv", b"a")
        for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    }
    response = clients["official"].post(reverse("outreach:household_import"), files)
    assert response.status_code == 400


def test_an_upload_over_the_import_limit_is_a_form_error(clients, hamlet, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    settings.HOUSEHOLD_IMPORT_MAX_BYTES = 1024 * 1024
    big = b"a,b\n" + b"x,y\n" * (300 * 1024)
    for url in (reverse("admin:team_member_roster_import"), reverse("outreach:household_import")):
        response = clients["official"].post(
            url, {"commune": hamlet.commune.pk, "file": SimpleUploadedFile("big.csv", big)}
        )
        assert response.status_code == 200
        assert "too large" in str(response.context["form"].errors["file"]) or (
            "quá lớn" in str(response.context["form"].errors["file"])
        )


def test_api_and_verify_refuse_writes(clients):
    for url in ("/api/v1/values", "/api/v1/indicators", reverse("core:verify_lookup")):
        assert clients["anonymous"].post(url, {"x": "y"}).status_code == 405
