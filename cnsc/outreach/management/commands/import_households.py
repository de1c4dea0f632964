"""Imports a household list (the back office's template, .xlsx or .csv) into one commune through
the same service as the back office: a dry run unless --apply, all or nothing, recorded in the
audit log as the user named. For files larger than a browser upload, and for scripts."""

from __future__ import annotations

from typing import Any

from cnsc.core.management.importing import ImportCommand, ImportReport
from cnsc.outreach.imports import import_households


class Command(ImportCommand):
    help = "Import a household list into a commune (dry run unless --apply)."

    def run_import(self, **upload: Any) -> ImportReport:
        result = import_households(**upload)
        return ImportReport(
            figures=[
                ("rows", result.rows),
                *((key, value) for key, value in sorted(result.counts.items()) if value),
            ],
            errors=(f"row {e.row} {e.column}: {e.message}" for e in result.errors),
            error_count=result.error_count,
        )
