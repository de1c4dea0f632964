"""Runs the Telegram bot: long polling (default, for development and small deployments) or the
webhook server (--webhook) behind a reverse proxy."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cnsc.bot import housekeeping
from cnsc.bot.application import ALLOWED_UPDATES, build_application
from cnsc.bot.webhook import start_server


class Command(BaseCommand):
    help = "Run the Telegram bot (long polling, or --webhook)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--webhook",
            action="store_true",
            help="Serve Telegram's webhook calls instead of polling (see TELEGRAM_WEBHOOK_*).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError(
                "TELEGRAM_BOT_TOKEN is not set: the bot cannot start. Create a bot with "
                "@BotFather and put its token in the environment or .env (the web does not "
                "need it)."
            )
        if options["webhook"]:
            if not settings.TELEGRAM_WEBHOOK_SECRET:
                raise CommandError(
                    "TELEGRAM_WEBHOOK_SECRET is not set: without it anyone could post updates."
                )
            asyncio.run(self._webhook())
        else:
            self._polling()

    def _polling(self) -> None:
        application = build_application(workers=None)

        async def post_init(app: Any) -> None:
            app.create_task(housekeeping.loop(app.bot))

        application.post_init = post_init
        self.stdout.write("Bot running (long polling). Ctrl-C stops it.")
        application.run_polling(allowed_updates=ALLOWED_UPDATES)

    async def _webhook(self) -> None:
        application = build_application(polling=False, workers=None)
        path = urlparse(settings.TELEGRAM_WEBHOOK_URL).path or "/telegram"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with application:
            await application.start()
            tidy = asyncio.create_task(housekeeping.loop(application.bot))
            server = await start_server(
                application,
                host=settings.TELEGRAM_WEBHOOK_LISTEN,
                port=settings.TELEGRAM_WEBHOOK_PORT,
                path=path,
                secret=settings.TELEGRAM_WEBHOOK_SECRET,
            )
            self.stdout.write(
                f"Bot webhook listening on {settings.TELEGRAM_WEBHOOK_LISTEN}:"
                f"{settings.TELEGRAM_WEBHOOK_PORT}{path}"
            )
            await stop.wait()
            server.close()
            await server.wait_closed()
            tidy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tidy
            await application.stop()
