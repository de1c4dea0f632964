"""A backup restores into a fresh database with every table and media file intact.

Runs the real commands in subprocesses against their own databases (never the test database),
as an operator would."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from cnsc.core.backup import Manifest, Target, backup_verify, media_fingerprints, table_fingerprints

ROOT = Path(__file__).resolve().parents[3]
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"

# Rows in most kinds of table and column (text with diacritics, JSON, dates, booleans, NULLs,
# history and audit rows) and a photo in the media folder, made as the app makes them.
SEED = """
from cnsc.access.roles import Role
from cnsc.core.testing import make_user, unit
from cnsc.geo.models import Hamlet
from cnsc.outreach.tests.factories import CCCD_WOMAN_1990, done, image_bytes, make_head
from cnsc.outreach.tests.factories import make_household, record
from cnsc.team.models import MemberRole
from cnsc.team.tests.factories import enrol, make_team
commune = unit("25747")
make_user("official", Role.COMMUNE_OFFICIAL, (commune,))
hamlet = Hamlet.objects.create(commune=commune, name="Khu phố Sao Lưu", kind="khu_pho")
team = make_team(hamlet, code="SL1")
leader = enrol(team, role=MemberRole.LEADER, full_name="Trần Thị Lụa").member
household = make_household(team, house_number="7", street="Đường Yersin")
head = make_head(household, full_name="Nguyễn Văn Tư", cccd=CCCD_WOMAN_1990, sex="female",
                 birth_year=1990)
record(leader, household, [done(head)], photos=[image_bytes("JPEG")], point=(10.98, 106.65))
"""

ADD_HAMLET = """
from cnsc.geo.models import Hamlet
old = Hamlet.objects.get()
new = Hamlet.objects.create(commune=old.commune, name="Khu phố Mới", kind="khu_pho")
print(Hamlet.objects.count(), new.pk > old.pk)
"""


def target(database_url: str) -> Target:
    """Where a DATABASE_URL of these tests points, as the backup module names databases."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        return Target("sqlite", url.path)
    return Target(
        "postgresql",
        url.path.lstrip("/"),
        url.hostname or "",
        str(url.port or ""),
        url.username or "",
    )


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def environment(database_url: str, media: Path, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MEDIA_ROOT")}
    env.update(DATABASE_URL=database_url, MEDIA_ROOT=str(media), CNSC_VAR_DIR=str(var))
    return env


@pytest.fixture
def databases(request, tmp_path):
    """Two empty databases of the engine under test: the source and the restore target."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/src.sqlite3", f"sqlite:///{tmp_path}/dst.sqlite3"
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    names = [f"cnsc_backup_{secrets.token_hex(4)}_{side}" for side in ("src", "dst")]
    for name in names:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield tuple(f"postgres://postgres@127.0.0.1:5432/{n}" for n in names)
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)
def test_backup_restores_into_a_fresh_database(databases, tmp_path):
    source_url, target_url = databases
    media = tmp_path / "media"
    (media / "visits" / "2026" / "11").mkdir(parents=True)
    photo = media / "visits" / "2026" / "11" / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + secrets.token_bytes(4000))
    src = environment(source_url, media, tmp_path / "var-src")
    manage("migrate", "-v", "0", env=src)
    manage("load_units", env=src)
    manage("shell", "--no-imports", "-c", SEED, env=src)

    folder = Path(manage("backup", "--out", str(tmp_path / "backups"), env=src).strip())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tables"]["geo_hamlet"]["rows"] == 1
    assert manifest["tables"]["geo_adminunit"]["rows"] == 14149
    assert "visits/2026/11/a.jpg" in manifest["media"]

    restored_media = tmp_path / "restored-media"
    dst = environment(target_url, restored_media, tmp_path / "var-dst")
    out = manage("restore", str(folder), env=dst)
    assert "every table and media file matches" in out

    # Compared here too, source against copy, not only by the command against its manifest.
    saved, restored = table_fingerprints(target(source_url)), table_fingerprints(target(target_url))
    assert set(manifest["tables"]) == set(saved)
    filled = {name for name, table in saved.items() if table["rows"]}
    for name in ("access_user", "team_member", "outreach_resident", "outreach_visitphoto"):
        assert name in filled
    assert len(filled) > 25
    assert restored == saved
    assert media_fingerprints(restored_media) == media_fingerprints(media)
    assert len(manifest["media"]) == 2  # the file above and the visit's photo
    assert (restored_media / "visits/2026/11/a.jpg").read_bytes() == photo.read_bytes()
    names = manage(
        "shell",
        "--no-imports",
        "-c",
        "from cnsc.geo.models import Hamlet; print(Hamlet.objects.get().name)",
        env=dst,
    )
    assert names.strip() == "Khu phố Sao Lưu"
    # The restored database goes on numbering where the saved one stopped (PostgreSQL's
    # sequences came back too): a new row is added beside the old ones.
    added = manage("shell", "--no-imports", "-c", ADD_HAMLET, env=dst)
    assert added.split() == ["2", "True"]

    # A second restore into the now-filled database is refused, and changes nothing.
    again = subprocess.run(
        [sys.executable, "manage.py", "restore", str(folder)],
        cwd=ROOT,
        env=dst,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode != 0
    assert "is not empty" in again.stderr


def test_a_damaged_restore_is_reported(tmp_path):
    db = tmp_path / "x.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'Nguyễn Văn A')")
    media = tmp_path / "m"
    media.mkdir()
    (media / "f.jpg").write_bytes(b"one")
    manifest = Manifest(
        engine="sqlite",
        created_at="now",
        tables=table_fingerprints(Target("sqlite", str(db))),
        media=media_fingerprints(media),
    )
    assert (
        backup_verify(manifest=manifest, target=Target("sqlite", str(db)), media_root=media) == []
    )
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE t SET name = 'Nguyễn Văn B'")
    (media / "f.jpg").write_bytes(b"two")
    problems = backup_verify(manifest=manifest, target=Target("sqlite", str(db)), media_root=media)
    assert problems == [
        "table t: same row count, different content",
        "media file f.jpg is missing or differs",
    ]
