"""``manage.py`` with each SQL statement announced on stderr as it starts ("SQL: INSERT INTO ..."),
so a crash test can kill the real command at the statement it chooses. Statements sent outside
Django's cursor (COPY on PostgreSQL) are not announced."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import execute_from_command_line
from django.db.backends.signals import connection_created


def announce(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    sys.stderr.write(f"SQL: {' '.join(str(sql).split())[:200]}\n")
    sys.stderr.flush()
    return execute(sql, params, many, context)


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.execute_wrappers.append(announce)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    connection_created.connect(install)
    execute_from_command_line(["manage.py", *sys.argv[1:]])
