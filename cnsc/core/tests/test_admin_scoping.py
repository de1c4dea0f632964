"""Every back-office page is scoped: checked over the whole admin registry, so a page added later
cannot forget it."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from cnsc.access.models import User
from cnsc.access.roles import Role
from cnsc.core.admin import ScopedAdmin
from cnsc.core.testing import client_for, make_user
from cnsc.geo.models import AdminUnit

pytestmark = pytest.mark.django_db


def test_every_admin_page_is_built_on_the_scoped_base():
    unscoped = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, ScopedAdmin)
    ]
    assert unscoped == []


def test_users_without_a_unit_see_empty_lists_everywhere(other_commune):
    call_command("seed_demo", verbosity=0)
    for role in Role.values:
        nobody = make_user(f"nobody-{role}", role)
        outsider = make_user(f"outsider-{role}", role, (other_commune,))
        for model in admin.site._registry:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for who in (nobody, outsider):
                response = client_for(who).get(url)
                assert response.status_code in (200, 403), (role, who, url)
                if response.status_code != 200:
                    continue
                rows = list(response.context["cl"].queryset)
                if who is nobody:
                    assert rows == [], (role, url)
                elif model is User:
                    assert rows == [outsider], (role, url)  # only themselves
                elif model is AdminUnit:
                    # Their own commune and the former units in it: nothing of the demo's city.
                    assert rows
                    assert not [u for u in rows if u.province and u.province.code in ("79", "74")]
                else:
                    assert rows == [], (role, url)
