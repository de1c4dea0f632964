"""Sends the queued broadcast deliveries that are due, once. Idempotent: what was sent is not
sent again. The worker (django-tasks) runs the same job; this command is for cron or by hand."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cnsc.bot.application import make_bot
from cnsc.bot.tasks import deliver_queued


class Command(BaseCommand):
    help = "Send the broadcast deliveries that are due now."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set.")
        result = deliver_queued(make_bot())
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(result.counts.items())) or "nothing due"
        self.stdout.write(counts)
