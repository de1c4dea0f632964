from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import override_settings

from cnsc.access.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from cnsc.access.models import User
from cnsc.geo.models import Hamlet

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_one_account_per_role_and_prints_them(capsys, client):
    call_command("seed_demo")
    out = capsys.readouterr().out
    for spec in DEMO_ACCOUNTS:
        assert spec.username in out
        user = User.objects.get(username=spec.username)
        assert user.check_password(DEMO_PASSWORD)
    assert DEMO_PASSWORD in out
    # django-axes checks every sign-in against the requesting address: a request is required.
    assert client.login(request=HttpRequest(), username="xa", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo")
    counts = (User.objects.count(), Hamlet.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Hamlet.objects.count()) == counts


@override_settings(DEMO_ACCOUNTS=False)
def test_seed_demo_is_refused_when_demo_accounts_are_off():
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not User.objects.exists()
