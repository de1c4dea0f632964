"""A change history on every row the back office can change: who changed it, when, and what.
Checked over the whole admin registry (inlines included), so a model added later cannot forget
it. Rows the back office can only add or read (the audit log, check-ins, broadcasts) carry who
and when on themselves and never change."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from cnsc.geo.models import Hamlet

pytestmark = pytest.mark.django_db


def _has_history(model: type) -> bool:
    return hasattr(model._meta, "simple_history_manager_attribute")


def test_every_model_the_back_office_can_change_keeps_a_history(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    missing = []
    checked = 0
    for model, model_admin in admin.site._registry.items():
        pages = [(model, model_admin.has_change_permission(request))]
        for inline in model_admin.get_inline_instances(request):
            writes = inline.has_change_permission(request) or inline.has_add_permission(
                request, None
            )
            pages.append((inline.model, writes))
        for page_model, writes in pages:
            if writes:
                checked += 1
                if not _has_history(page_model):
                    missing.append(page_model._meta.label)
    assert checked >= 20
    assert missing == []


def test_the_history_page_says_who_changed_what_and_when(client_of, official, hamlet):
    client = client_of(official)
    response = client.post(
        reverse("admin:geo_hamlet_change", args=[hamlet.pk]),
        {
            "name": "Khu phố Mới",
            "kind": hamlet.kind,
            "commune": hamlet.commune_id,
            "created_on": hamlet.created_on.isoformat(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors
    latest = Hamlet.history.filter(id=hamlet.pk).order_by("-history_id").first()
    assert latest.history_user == official

    page = client.get(reverse("admin:geo_hamlet_history", args=[hamlet.pk]))
    record = page.context["page_obj"][0]
    assert record.history_user == official
    changes = {(c["field"], c["old"], c["new"]) for c in record.history_delta_changes}
    assert changes == {("Tên", "Khu phố 1", "Khu phố Mới")}  # the field as the page names it
    text = page.content.decode()
    assert "official" in text  # who
    assert "Khu phố 1" in text
    assert "Khu phố Mới" in text  # what, before and after
