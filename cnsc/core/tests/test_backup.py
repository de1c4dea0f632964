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

import pytest

from cnsc.core.backup import Manifest, Target, backup_verify, media_fingerprints, table_fingerprints

ROOT = Path(__file__).resolve().parents[3]
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"

SEED = """
from cnsc.geo.models import AdminUnit, Hamlet
commune = AdminUnit.objects.get(hierarchy="current", level="commune", code="25747")
Hamlet.objects.create(commune=commune, name="Khu phố Sao Lưu", kind="khu_pho")
"""


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
    assert (restored_media / "visits/2026/11/a.jpg").read_bytes() == photo.read_bytes()
    names = manage(
        "shell",
        "--no-imports",
        "-c",
        "from cnsc.geo.models import Hamlet; print(Hamlet.objects.get().name)",
        env=dst,
    )
    assert names.strip() == "Khu phố Sao Lưu"

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
