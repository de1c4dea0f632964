from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cnsc.dashboard.services import indicators_recompute


class Command(BaseCommand):
    help = (
        "Recompute every figure of every unit and kept period from the raw tables. Idempotent; "
        "run nightly, after changing INDICATORS_* settings, or after a bulk correction."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(indicators_recompute()))
