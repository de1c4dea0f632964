"""The shape shared by the commands that import a back-office template file into one commune:
the same arguments, the user it runs as, the commune that user may import into, the file opened
and its errors, and what is printed. Each command says which service reads the file and how its
result reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cnsc.core.spreadsheets import ImportFileError

SHOWN_ERRORS = 20


@dataclass(frozen=True)
class ImportReport:
    """What a command prints of a service's result: its figures in order (``name: value``), its
    errors formatted (only the first SHOWN_ERRORS are taken) and how many errors there were."""

    figures: list[tuple[str, int]]
    errors: Iterable[str]
    error_count: int


class ImportCommand(BaseCommand):
    """Dry run unless --apply; the service is all or nothing and records the run in the audit
    log as the user named."""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--commune", required=True, help="official code of a current commune")
        parser.add_argument("--user", required=True, help="the back-office user it runs as")
        parser.add_argument("--apply", action="store_true", help="write (default: dry run)")

    def run_import(self, **upload: Any) -> ImportReport:
        """Call the import service with ``upload`` (its keyword arguments, as the back office
        passes them: upload, size, commune, user, apply, file_name) and report its result."""
        raise NotImplementedError

    def handle(
        self, *args: Any, path: Path, commune: str, user: str, apply: bool, **o: Any
    ) -> None:
        runner = get_user_model()._default_manager.filter(username=user, is_active=True).first()
        if runner is None:
            raise CommandError(f"No active user {user!r}.")
        # By the model's name: core imports nothing from the apps. A commune that does not exist
        # and one the user may not see are refused alike, before the file is read.
        units: Any = apps.get_model("geo", "AdminUnit")
        unit = units.objects.current().communes().visible_to(runner).filter(code=commune).first()
        if unit is None:
            raise CommandError(
                _("%(user)s cannot import into commune %(commune)s.")
                % {"user": user, "commune": commune}
            )
        try:
            with path.open("rb") as upload:
                report = self.run_import(
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
        for name, value in report.figures:
            self.stdout.write(f"{name}: {value}")
        for line in islice(report.errors, SHOWN_ERRORS):
            self.stdout.write(line)
        if report.error_count:
            raise CommandError(f"{report.error_count} errors: nothing was written.")
        self.stdout.write("Applied." if apply else "Dry run: nothing was written (add --apply).")
