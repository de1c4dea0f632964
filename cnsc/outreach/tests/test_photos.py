"""Visit and field-report photos are shown through a scoped route: whoever may see the visit or
the report sees the picture; another commune's official, an anonymous visitor and a made-up name
get nothing, and the back office links to the route, never to the media folder."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cnsc.core.testing import client_for
from cnsc.outreach.models import ReportCategory, VisitPhoto
from cnsc.outreach.services import field_report_create
from cnsc.outreach.tests.factories import done, image_bytes, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(member, household, resident):
    visit = record(member, household, [done(resident)], photos=[image_bytes("PNG")])
    return visit, VisitPhoto.objects.get(visit=visit)


def test_an_official_of_the_commune_sees_the_photo(stored, official):
    _visit, photo = stored
    response = client_for(official).get(reverse("outreach:photo", args=[photo.file.name]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert "no-store" in response["Cache-Control"]


def test_others_get_nothing(stored, outsider):
    _visit, photo = stored
    url = reverse("outreach:photo", args=[photo.file.name])
    assert client_for(outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the sign-in page
    for name in ("visits/2026/01/nothere.png", "../settings.py", "x" * 300 + ".png"):
        assert client_for(outsider).get(reverse("outreach:photo", args=[name])).status_code == 404


def test_a_field_reports_photo_too(member, official, outsider):
    report, _created = field_report_create(
        reporter=member,
        category=ReportCategory.CONNECTIVITY,
        text="Sóng yếu",
        idempotency_key="photo:1",
        photo=image_bytes("JPEG"),
    )
    url = reverse("outreach:photo", args=[report.photo.name])
    assert client_for(official).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404
    page = client_for(official).get(reverse("admin:outreach_fieldreport_change", args=[report.pk]))
    assert url in page.content.decode()


def test_the_visit_page_shows_the_photo_through_the_route(stored, official):
    visit, photo = stored
    page = client_for(official).get(reverse("admin:outreach_visit_change", args=[visit.pk]))
    html = page.content.decode()
    assert f'src="{reverse("outreach:photo", args=[photo.file.name])}"' in html
    assert "/media/" not in html
