from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from cnsc.dashboard.models import RefreshState
from cnsc.dashboard.services import STATE, indicators_recompute, indicators_refresh


class Command(BaseCommand):
    help = (
        "Bring the figures up to date with what was recorded since the last run (the first run "
        "computes everything). Idempotent; meant to run every minute (cron), or to keep running "
        "with --every 60. A run that finds another one in progress does nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--every", type=int, metavar="SECONDS", help="keep running, once every SECONDS"
        )
        parser.add_argument(
            "--recompute-at",
            metavar="HH:MM",
            help="with --every: also recompute everything once a day at this local time",
        )

    def handle(
        self, *args: Any, every: int | None, recompute_at: str | None, **options: Any
    ) -> None:
        if every is None:
            self.stdout.write(str(indicators_refresh()))
            return
        if every < 10:
            raise CommandError("--every must be at least 10 seconds")
        daily = _parse_time(recompute_at) if recompute_at else None
        while True:
            started = time.monotonic()
            close_old_connections()
            if daily is not None and _full_due(daily):
                self.stdout.write(str(indicators_recompute()))
            else:
                self.stdout.write(str(indicators_refresh()))
            self.stdout.flush()
            time.sleep(max(1.0, every - (time.monotonic() - started)))


def _parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise CommandError("--recompute-at takes a local time such as 02:30") from None


def _full_due(at: dt.time) -> bool:
    """Past today's time and no full recompute since it."""
    now = timezone.localtime()
    due = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if now < due:
        return False
    last = RefreshState.objects.filter(name=STATE).values_list("last_full_at", flat=True).first()
    return last is None or last < due
