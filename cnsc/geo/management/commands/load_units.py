from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cnsc.geo.services import units_load
from cnsc.geo.sources import UnitSourceError, read_source


class Command(BaseCommand):
    help = (
        "Load Vietnam's administrative units (current and former) and the former→current mapping."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--units-file", type=Path, help="SQLite unit file (default: packaged)")
        parser.add_argument("--mapping-file", type=Path, help="JSON mapping (default: packaged)")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            source = read_source(options["units_file"], options["mapping_file"])
        except UnitSourceError as exc:
            raise CommandError(f"Unit data rejected, nothing changed: {exc}") from None
        result = units_load(source=source)
        self.stdout.write(
            f"units: {result.created} created, {result.updated} updated; "
            f"mappings: {result.mappings_created} created, {result.mappings_updated} updated, "
            f"{result.mappings_deleted} removed ({time.perf_counter() - started:.1f}s)"
        )
