from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cnsc.core.backup import BackupError, Target, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a folder written by `backup` into the configured database, which must be empty "
        "(create a new one), and into MEDIA_ROOT; then compare every table and media file with "
        "the backup's manifest. Exits non-zero on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            problems = backup_restore(
                folder=options["folder"],
                target=Target.from_settings(settings.DATABASES["default"]),
                media_root=Path(settings.MEDIA_ROOT),
            )
        except (BackupError, OSError) as exc:
            raise CommandError(f"Restore failed: {exc}") from None
        if problems:
            raise CommandError("Restored, but it differs from the backup: " + "; ".join(problems))
        self.stdout.write("restored; every table and media file matches the backup")
