"""The import commands' shared checks, as whoever runs them sees them: the user named must be
active, and a commune that user may not import into is refused, the same way as one that does not
exist, before the file is read."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from cnsc.core.testing import OTHER_COMMUNE

COMMANDS = ["import_households", "import_members"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_commune_out_of_reach_is_refused_like_a_missing_one(command, official, tmp_path):
    never_read = tmp_path / "missing.csv"
    with translation.override("en"):
        for code in (OTHER_COMMUNE, "99999"):
            with pytest.raises(CommandError) as refused:
                call_command(command, str(never_read), commune=code, user="official")
            assert str(refused.value) == f"official cannot import into commune {code}."


@pytest.mark.parametrize("command", COMMANDS)
def test_the_users_own_commune_gets_as_far_as_the_file(command, official, home_commune, tmp_path):
    with pytest.raises(CommandError) as refused:
        call_command(
            command, str(tmp_path / "missing.csv"), commune=home_commune.code, user="official"
        )
    assert str(refused.value) == f"{tmp_path / 'missing.csv'}: No such file or directory"


@pytest.mark.parametrize("command", COMMANDS)
def test_an_inactive_user_is_refused(command, official, home_commune, tmp_path):
    official.is_active = False
    official.save()
    with pytest.raises(CommandError) as refused:
        call_command(command, str(tmp_path / "x.csv"), commune=home_commune.code, user="official")
    assert str(refused.value) == "No active user 'official'."
