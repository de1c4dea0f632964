"""The default-deny list itself fails when it falls behind the URL configuration: a route added
without an entry in cnsc/core/routes.py, or an entry left behind after its route was removed,
fails the route guard's first test (cnsc/core/tests/test_route_guard.py)."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path

from cnsc.core.routes import OFFICIALS, ROUTES
from cnsc.core.tests.test_route_guard import (
    test_every_route_is_listed_with_who_may_use_it as routes_listed,
)
from config.urls import urlpatterns as project_urlpatterns


def every_resident(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Nguyễn Văn Tư, 079085012345")


# The project's routes and one more, as a hurried change might add it.
urlpatterns = [
    *project_urlpatterns,
    path("residents/everyone.csv", every_resident, name="every_resident"),
]


def test_a_route_without_an_entry_fails_the_guard(settings):
    settings.ROOT_URLCONF = __name__
    with pytest.raises(AssertionError, match=r"routes missing from .*every_resident"):
        routes_listed()


def test_an_entry_without_a_route_fails_the_guard(monkeypatch):
    monkeypatch.setitem(ROUTES, "outreach:resident_list", OFFICIALS)
    with pytest.raises(AssertionError, match="name no route: outreach:resident_list"):
        routes_listed()
