"""Imports a roster (the back office's template, .xlsx or .csv) into one commune through the same
service as the back office: a dry run unless --apply, all or nothing, recorded in the audit log
as the user named. For files and scripts that do not go through a browser."""

from __future__ import annotations

from typing import IO

from cnsc.core.management.importing import ImportCommand, ImportReport
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit
from cnsc.team.imports import import_roster


class Command(ImportCommand):
    help = "Import teams and members from a roster file into a commune (dry run unless --apply)."

    def run_import(
        self,
        *,
        upload: IO[bytes],
        size: int,
        commune: AdminUnit,
        user: Viewer,
        apply: bool,
        file_name: str,
    ) -> ImportReport:
        plan = import_roster(
            upload=upload, size=size, commune=commune, user=user, apply=apply, file_name=file_name
        )
        return ImportReport(
            figures=[(key, value) for key, value in sorted(plan.counts.items()) if value],
            errors=(f"{e.sheet} row {e.row} {e.column}: {e.message}" for e in plan.errors),
            error_count=len(plan.errors),
        )
