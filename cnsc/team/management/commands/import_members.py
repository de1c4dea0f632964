"""Imports a roster (the back office's template, .xlsx or .csv) into one commune through the same
service as the back office: a dry run unless --apply, all or nothing, recorded in the audit log
as the user named. For files and scripts that do not go through a browser."""

from __future__ import annotations

from typing import Any

from cnsc.core.management.importing import ImportCommand, ImportReport
from cnsc.team.imports import import_roster


class Command(ImportCommand):
    help = "Import teams and members from a roster file into a commune (dry run unless --apply)."

    def run_import(self, **upload: Any) -> ImportReport:
        plan = import_roster(**upload)
        return ImportReport(
            figures=[(key, value) for key, value in sorted(plan.counts.items()) if value],
            errors=(f"{e.sheet} row {e.row} {e.column}: {e.message}" for e in plan.errors),
            error_count=len(plan.errors),
        )
