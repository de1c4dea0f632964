"""Imports a roster (the back office's template, .xlsx or .csv) into one commune through the same
service as the back office: a dry run unless --apply, all or nothing, recorded in the audit log
as the user named. For files and scripts that do not go through a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cnsc.access.models import User
from cnsc.core.spreadsheets import ImportFileError
from cnsc.team.forms import visible_communes
from cnsc.team.imports import import_roster

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = "Import teams and members from a roster file into a commune (dry run unless --apply)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--commune", required=True, help="official code of a current commune")
        parser.add_argument("--user", required=True, help="the back-office user it runs as")
        parser.add_argument("--apply", action="store_true", help="write (default: dry run)")

    def handle(
        self, *args: Any, path: Path, commune: str, user: str, apply: bool, **o: Any
    ) -> None:
        runner = User.objects.filter(username=user, is_active=True).first()
        if runner is None:
            raise CommandError(f"No active user {user!r}.")
        unit = visible_communes(runner).filter(code=commune).first()
        if unit is None:
            raise CommandError(f"{user} cannot import into commune {commune!r}.")
        try:
            with path.open("rb") as upload:
                plan = import_roster(
                    upload=upload,
                    size=path.stat().st_size,
                    commune=unit,
                    user=runner,
                    apply=apply,
                    file_name=path.name,
                )
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        for key, value in sorted(plan.counts.items()):
            if value:
                self.stdout.write(f"{key}: {value}")
        for error in plan.errors[:SHOWN_ERRORS]:
            self.stdout.write(f"{error.sheet} row {error.row} {error.column}: {error.message}")
        if plan.errors:
            raise CommandError(f"{len(plan.errors)} errors: nothing was written.")
        self.stdout.write("Applied." if apply else "Dry run: nothing was written (add --apply).")
