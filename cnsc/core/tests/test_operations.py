"""Start-up, health and logging, as an operator sees them."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[3]


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with settings from ``env`` (settings are read once)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CNSC_"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.django_db
def test_healthz_says_the_database_is_up(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_is_down(tmp_path):
    result = run_django(
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(r.status_code, r.content.decode())",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        CNSC_VAR_DIR=str(tmp_path),
    )
    assert result.stdout.strip().startswith("503"), result.stderr
    assert '"database": "unreachable"' in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must point at PostgreSQL or SQLite"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"CNSC_ENV": "production"}, "SECRET_KEY must be set"),
        ({"CNSC_ENV": "staging"}, "CNSC_ENV must be development, production or test"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"SESSION_COOKIE_AGE": "8h"}, "SESSION_COOKIE_AGE must be a whole number"),
    ],
)
def test_a_bad_setting_stops_the_start_with_a_line_naming_it(tmp_path, env, message):
    database = tmp_path / "db.sqlite3"
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG")},
            "CNSC_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{database}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("ImproperlyConfigured: ")
    assert message in line
    assert not database.exists()  # nothing was migrated


@pytest.mark.django_db
def test_one_log_line_per_request_without_personal_data(client, official, caplog):
    client.force_login(official)
    with caplog.at_level(logging.INFO, logger="cnsc.request"):
        client.get("/admin/geo/hamlet/?q=Nguy%E1%BB%85n+V%C4%83n+A+0912345678")
    records = [r for r in caplog.records if r.name == "cnsc.request"]
    assert len(records) == 1
    line = json.dumps(records[0].__dict__, default=str)
    assert records[0].status == 200
    assert records[0].route == "admin/geo/hamlet/"
    assert records[0].user_id == official.pk
    assert "0912345678" not in line
    assert "Nguy" not in line
    assert "official" not in line  # no user names either


def test_compose_runs_every_process_the_operations_guide_lists():
    """Each `python manage.py ...` process of docs/operations.md is a service of the compose
    file, with the same command (without the figures process, the dashboards never change)."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    compose = (ROOT / "docker" / "compose.yaml").read_text()
    listed_in_guide = re.findall(r"^\| \w+ \| `(python manage\.py [^`]+)`", guide, re.M)
    commands = [found.split() for found in listed_in_guide]
    assert {words[2] for words in commands} >= {"runbot", "db_worker", "refresh_indicators"}
    for words in commands:
        listed = "command: [" + ", ".join(json.dumps(w) for w in words) + "]"
        assert listed in compose, listed
