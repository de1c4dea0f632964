"""Registers the webhook with Telegram (set), removes it to go back to polling (delete), or shows
what Telegram has (info)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from telegram import Bot

from cnsc.bot.application import ALLOWED_UPDATES, make_bot


class Command(BaseCommand):
    help = "Set, delete or show the Telegram webhook (TELEGRAM_WEBHOOK_URL and _SECRET)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["set", "delete", "info"])

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set.")
        action = options["action"]
        if action == "set" and not (
            settings.TELEGRAM_WEBHOOK_URL and settings.TELEGRAM_WEBHOOK_SECRET
        ):
            raise CommandError("Set TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET first.")
        self.stdout.write(async_to_sync(self._run)(make_bot(), action))

    async def _run(self, bot: Bot, action: str) -> str:
        async with bot:
            if action == "set":
                await bot.set_webhook(
                    url=settings.TELEGRAM_WEBHOOK_URL,
                    secret_token=settings.TELEGRAM_WEBHOOK_SECRET,
                    allowed_updates=ALLOWED_UPDATES,
                )
                return f"Webhook set to {settings.TELEGRAM_WEBHOOK_URL}"
            if action == "delete":
                await bot.delete_webhook()
                return "Webhook deleted: use runbot without --webhook (long polling)."
            info = await bot.get_webhook_info()
            return (
                f"url={info.url or '-'} pending={info.pending_update_count} "
                f"last_error={info.last_error_message or '-'}"
            )
