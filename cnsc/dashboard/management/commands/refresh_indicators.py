from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cnsc.dashboard.services import indicators_refresh


class Command(BaseCommand):
    help = (
        "Bring the figures up to date with what was recorded since the last run (the first run "
        "computes everything). Idempotent, meant to run every minute; a run that finds another "
        "one in progress does nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(indicators_refresh()))
