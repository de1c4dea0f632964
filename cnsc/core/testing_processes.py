"""Crash tests with real processes: a database of their own for child processes (a copy of the
test database, so migrated and with the units loaded), children started with ``manage.py`` or a
test script, their output watched line by line, and SIGKILL at a chosen moment.

SQLite: the copy is a file in the test's folder (WAL, as in development). PostgreSQL: a database
made from a template copied once per session from the test database, dropped after the test.
Checks read the child's database with plain SQL, apart from Django's own connection.
"""

from __future__ import annotations

import itertools
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]
_clones = itertools.count(1)


@dataclass
class ChildDatabase:
    """A database of its own for child processes, with the environment that points them at it."""

    vendor: str
    env: dict[str, str]
    folder: Path
    name: str
    _admin_dsn: str = ""
    _dsn: str = ""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.vendor == "sqlite":
            with closing(sqlite3.connect(self.name, timeout=30)) as db:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True) as db:
            return db.execute(sql.encode(), params).fetchall()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.rows(sql, params)[0][0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.vendor == "sqlite":
            with closing(sqlite3.connect(self.name, timeout=30)) as db:
                db.execute(sql.replace("%s", "?"), params)
                db.commit()
            return
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True) as db:
            db.execute(sql.encode(), params)

    def drop(self) -> None:
        if self.vendor == "postgresql":
            _admin(self._admin_dsn, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _admin(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(sql.encode())


def _dsn(settings_dict: dict[str, Any], name: str) -> str:
    parts = {
        "dbname": name,
        "user": settings_dict.get("USER") or "",
        "password": settings_dict.get("PASSWORD") or "",
        "host": settings_dict.get("HOST") or "",
        "port": str(settings_dict.get("PORT") or ""),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


def _url(settings_dict: dict[str, Any], name: str) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name}"


def base_env(folder: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "TELEGRAM_", "PYTEST", "CNSC_", "DJANGO_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CNSC_ENV": "development",
        "CNSC_VAR_DIR": str(folder),
        "MEDIA_ROOT": str(folder / "media"),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "CCCD_HASH_KEY": settings.CCCD_HASH_KEY,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    return env


@pytest.fixture(scope="session")
def _child_template(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The test database as a template (PostgreSQL), taken once per session."""
    with django_db_blocker.unblock():
        settings_dict = dict(connection.settings_dict)
    if connection.vendor != "postgresql":
        yield settings_dict
        return
    test_name = settings_dict["NAME"]
    template = f"{test_name}_crash_tpl"[:63]
    admin = _dsn(settings_dict, "postgres")
    with django_db_blocker.unblock():
        # CREATE DATABASE ... TEMPLATE needs the source free of connections, ours included.
        connections.close_all()
        _admin(admin, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        _admin(admin, f'CREATE DATABASE "{template}" TEMPLATE "{test_name}"')
    try:
        yield settings_dict | {"TEMPLATE_NAME": template}
    finally:
        _admin(admin, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


@pytest.fixture
def child_db(
    _child_template: dict[str, Any], db: Any, django_db_blocker: Any, tmp_path: Path
) -> Iterator[ChildDatabase]:
    """A database for this test's child processes, migrated and with the units loaded. (``db``:
    pytest-django creates the test database only for tests that ask for it.)"""
    folder = tmp_path / "child"
    (folder / "media").mkdir(parents=True)
    env = base_env(folder)
    if connection.vendor == "sqlite":
        path = folder / "cnsc.sqlite3"
        with django_db_blocker.unblock():
            connection.ensure_connection()
            with closing(sqlite3.connect(path)) as copy:
                connection.connection.backup(copy)
        env["DATABASE_URL"] = ""  # the development default: CNSC_VAR_DIR/cnsc.sqlite3, WAL
        database = ChildDatabase("sqlite", env, folder, str(path))
    else:
        name = f"{_child_template['NAME']}_c{os.getpid()}_{next(_clones)}"[:63]
        admin = _dsn(_child_template, "postgres")
        _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{_child_template["TEMPLATE_NAME"]}"')
        env["DATABASE_URL"] = _url(_child_template, name)
        database = ChildDatabase(
            "postgresql", env, folder, name, admin, _dsn(_child_template, name)
        )
    try:
        yield database
    finally:
        database.drop()


# --- Children -------------------------------------------------------------------------------


@dataclass
class Child:
    """A running child process whose output (stdout and stderr, merged) is read line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @classmethod
    def start(
        cls, args: Sequence[str], env: dict[str, str], *, extra: dict[str, str] | None = None
    ) -> Child:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and scripts)
            [sys.executable, *args],
            cwd=ROOT,
            env=env | (extra or {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        child = cls(process)
        threading.Thread(target=child._read, daemon=True).start()
        return child

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool], *, timeout: float) -> str:
        """The first line (from now on, or already read) for which ``wanted`` is true."""
        for line in self.lines:
            if wanted(line):
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if got is None:
                raise AssertionError("the child ended first:\n" + "\n".join(self.lines[-40:]))
            self.lines.append(got)
            if wanted(got):
                return got
        raise AssertionError(f"nothing wanted within {timeout} s:\n" + "\n".join(self.lines[-40:]))

    def kill(self) -> None:
        """SIGKILL: no handler runs, no transaction is finished, nothing is flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, *, timeout: float) -> int:
        """Wait for the end; the exit code. The output is in ``lines``."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"still running after {timeout} s:\n" + "\n".join(self.lines[-40:])
            ) from None
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code


def run(args: Sequence[str], env: dict[str, str], *, timeout: float, **extra: str) -> list[str]:
    """Run a child to its end; its output lines. Fails the test on a non-zero exit."""
    child = Child.start(args, env, extra=extra)
    code = child.finish(timeout=timeout)
    assert code == 0, "\n".join(child.lines[-60:])
    return child.lines
