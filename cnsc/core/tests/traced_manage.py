"""``manage.py`` with each SQL statement announced on stderr as it starts ("SQL: INSERT INTO ..."),
so a crash test can kill the real command at the statement it chooses. Statements sent outside
Django's cursor (COPY on PostgreSQL) are not announced.

With ``TRACE_STOP_AT`` set, the command stops for good once a statement starting with it has
run ("STOPPED: ..."), so the test kills it exactly there, inside its transaction, however fast
the rest would have gone."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from django.core.management import execute_from_command_line
from django.db.backends.signals import connection_created


def announce(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    statement = " ".join(str(sql).split())
    sys.stderr.write(f"SQL: {statement[:200]}\n")
    sys.stderr.flush()
    result = execute(sql, params, many, context)
    stop_at = os.environ.get("TRACE_STOP_AT")
    if stop_at and statement.startswith(stop_at):
        sys.stderr.write(f"STOPPED: {statement[:200]}\n")
        sys.stderr.flush()
        while True:
            time.sleep(60)
    return result


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.execute_wrappers.append(announce)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    connection_created.connect(install)
    execute_from_command_line(["manage.py", *sys.argv[1:]])
