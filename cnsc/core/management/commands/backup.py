from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cnsc.core.backup import BackupError, Target, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump custom format, or a consistent SQLite copy) and the media "
        "folder into a new folder under --out, with a manifest of row counts and checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="folder to write the backup in")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            folder = backup_create(
                target=Target.from_settings(settings.DATABASES["default"]),
                media_root=Path(settings.MEDIA_ROOT),
                out_dir=options["out"],
            )
        except (BackupError, OSError) as exc:
            raise CommandError(f"Backup failed: {exc}") from None
        self.stdout.write(str(folder))
