"""Backups that restore: the database (pg_dump custom format, or SQLite's online backup) plus the
media folder, with a manifest of every table's row count and checksum and every media file's
SHA-256, so a restore can prove it brought back exactly what was saved.

Layout of a backup folder::

    manifest.json   engine, time, tables {name: {rows, sha256}}, media {path: sha256}
    db.dump         PostgreSQL, pg_dump --format=custom
    db.sqlite3      SQLite, a consistent copy made with the online backup API
    media.tar       the media folder (photos, handbooks), uncompressed: photos are JPEG already
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
CHUNK = 2000


class BackupError(Exception):
    """A backup or restore could not be completed; the message says why."""


@dataclass
class Target:
    """Where a database lives, independent of Django's connection handling."""

    engine: str  # "postgresql" or "sqlite"
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, db: Mapping[str, Any]) -> Target:
        engine = db["ENGINE"].rsplit(".", 1)[-1]
        if engine not in ("postgresql", "sqlite3"):
            raise BackupError(f"unsupported database engine {db['ENGINE']}")
        return cls(
            engine="sqlite" if engine == "sqlite3" else engine,
            name=str(db["NAME"]),
            host=str(db.get("HOST") or ""),
            port=str(db.get("PORT") or ""),
            user=str(db.get("USER") or ""),
            password=str(db.get("PASSWORD") or ""),
        )

    def pg_args(self) -> list[str]:
        args = []
        if self.host:
            args += ["--host", self.host]
        if self.port:
            args += ["--port", self.port]
        if self.user:
            args += ["--username", self.user]
        return args

    def pg_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self) -> Any:
        if self.engine == "sqlite":
            return sqlite3.connect(self.name)
        import psycopg

        return psycopg.connect(
            dbname=self.name,
            host=self.host or None,
            port=self.port or None,
            user=self.user or None,
            password=self.password or None,
        )


@dataclass
class Manifest:
    engine: str
    created_at: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, str] = field(default_factory=dict)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise BackupError(f"{path} is not a backup manifest: {exc}") from None


def _tables(conn: Any, engine: str) -> list[str]:
    cur = conn.cursor()
    if engine == "sqlite":
        cur.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    return sorted(row[0] for row in cur.fetchall())


def _normalise(value: Any) -> str:
    # The same row must hash the same on both engines' drivers (bool/int, bytes/memoryview).
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


def table_fingerprints(target: Target) -> dict[str, dict[str, Any]]:
    """Row count and a SHA-256 over every row (in primary-key order) of every table."""
    out: dict[str, dict[str, Any]] = {}
    with closing(target.connect()) as conn:
        for table in _tables(conn, target.engine):
            quoted = '"' + table.replace('"', '""') + '"'
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {quoted} ORDER BY 1")  # noqa: S608 (names from catalogue)
            digest = hashlib.sha256()
            rows = 0
            while batch := cur.fetchmany(CHUNK):
                for row in batch:
                    digest.update("\x1f".join(_normalise(v) for v in row).encode() + b"\x1e")
                rows += len(batch)
            out[table] = {"rows": rows, "sha256": digest.hexdigest()}
    return out


def media_fingerprints(root: Path) -> dict[str, str]:
    out = {}
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                out[path.relative_to(root).as_posix()] = _sha256_file(path)
    return out


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip()[-500:]}")


def backup_create(*, target: Target, media_root: Path, out_dir: Path) -> Path:
    """Write a backup folder under ``out_dir`` and return it. The database copy is consistent
    (pg_dump takes a snapshot; SQLite's backup API copies a consistent state)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_dir / f"cnsc-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    if target.engine == "postgresql":
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                *target.pg_args(),
                "--file",
                str(folder / "db.dump"),
                target.name,
            ],
            env=target.pg_env(),
        )
    else:
        with (
            closing(sqlite3.connect(target.name)) as src,
            closing(sqlite3.connect(folder / "db.sqlite3")) as dst,
        ):
            src.backup(dst)
    with tarfile.open(folder / "media.tar", "w") as tar:
        if media_root.is_dir():
            tar.add(media_root, arcname=".")
    # Fingerprints of what was saved, read back from the copy itself where we can.
    saved = Target("sqlite", str(folder / "db.sqlite3")) if target.engine == "sqlite" else target
    manifest = Manifest(
        engine=target.engine,
        created_at=stamp,
        tables=table_fingerprints(saved),
        media=media_fingerprints(media_root),
    )
    manifest.dump(folder / MANIFEST)
    return folder


def backup_restore(*, folder: Path, target: Target, media_root: Path) -> list[str]:
    """Restore ``folder`` into ``target`` (which must be empty) and ``media_root``; return the
    differences found against the manifest (an empty list: everything came back)."""
    manifest = Manifest.load(folder / MANIFEST)
    if manifest.engine != target.engine:
        raise BackupError(f"this backup is of a {manifest.engine} database, not {target.engine}")
    with closing(target.connect()) as conn:
        if _tables(conn, target.engine):
            raise BackupError(f"database {target.name} is not empty: restore into a new one")
    if target.engine == "postgresql":
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                *target.pg_args(),
                "--dbname",
                target.name,
                str(folder / "db.dump"),
            ],
            env=target.pg_env(),
        )
    else:
        with (
            closing(sqlite3.connect(folder / "db.sqlite3")) as src,
            closing(sqlite3.connect(target.name)) as dst,
        ):
            src.backup(dst)
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "media.tar") as tar:
        tar.extractall(media_root, filter="data")
    return backup_verify(manifest=manifest, target=target, media_root=media_root)


def backup_verify(*, manifest: Manifest, target: Target, media_root: Path) -> list[str]:
    problems = []
    tables = table_fingerprints(target)
    for name, saved in sorted(manifest.tables.items()):
        now = tables.get(name)
        if now is None:
            problems.append(f"table {name} is missing")
        elif now["rows"] != saved["rows"]:
            problems.append(f"table {name}: {saved['rows']} rows saved, {now['rows']} restored")
        elif now["sha256"] != saved["sha256"]:
            problems.append(f"table {name}: same row count, different content")
    problems += [
        f"table {name} was not in the backup" for name in tables.keys() - manifest.tables.keys()
    ]
    media = media_fingerprints(media_root)
    for path, digest in sorted(manifest.media.items()):
        if media.get(path) != digest:
            problems.append(f"media file {path} is missing or differs")
    return problems
