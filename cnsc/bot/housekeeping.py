"""What the bot process does besides answering: every few minutes, tell members the commune's
answers to their field reports, and forget old handled updates and abandoned photos."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from telegram import Bot
from telegram.error import Forbidden, TelegramError

from cnsc.outreach.models import FieldReport
from cnsc.outreach.selectors import field_reports_to_notify
from cnsc.outreach.services import field_report_mark_notified

from .handlers.pending import pending_prune
from .models import TelegramAccount
from .services import processed_updates_prune

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 300


@dataclass(frozen=True)
class AnswerNotice:
    report_id: int
    chat_id: int | None
    text: str


def answers_to_send() -> list[AnswerNotice]:
    """Answered field reports not yet told to their reporter, with the text to send."""
    notices = []
    reports = field_reports_to_notify(limit=50)
    chats = dict(
        TelegramAccount.objects.filter(member_id__in=[r.reporter_id for r in reports]).values_list(
            "member_id", "chat_id"
        )
    )
    languages = dict(
        TelegramAccount.objects.filter(member_id__in=[r.reporter_id for r in reports]).values_list(
            "member_id", "language"
        )
    )
    for report in reports:
        with translation.override(languages.get(report.reporter_id, "vi")):
            text = _("The commune answered your report %(code)s:\n%(answer)s") % {
                "code": report.code,
                "answer": report.answer,
            }
        notices.append(
            AnswerNotice(report_id=report.pk, chat_id=chats.get(report.reporter_id), text=text)
        )
    return notices


@transaction.atomic
def answer_delivered(*, report_id: int) -> None:
    field_report_mark_notified(report=FieldReport.objects.get(pk=report_id))


def tidy() -> None:
    processed_updates_prune()
    pending_prune(older_than=dt.timedelta(days=1))


async def run_once(bot: Bot) -> int:
    sent = 0
    for notice in await sync_to_async(answers_to_send)():
        if notice.chat_id is not None:
            try:
                await bot.send_message(chat_id=notice.chat_id, text=notice.text)
            except Forbidden:
                logger.info("report %s: the reporter blocked the bot", notice.report_id)
            except TelegramError as exc:
                logger.warning("report %s: answer not delivered (%s)", notice.report_id, exc)
                continue
            sent += 1
        # Unlinked or blocked: they will read it from the commune; do not retry forever.
        await sync_to_async(answer_delivered)(report_id=notice.report_id)
    await sync_to_async(tidy)()
    return sent


async def loop(bot: Bot) -> None:
    while True:
        try:
            await run_once(bot)
        except Exception:
            logger.exception("bot housekeeping failed")
        await asyncio.sleep(INTERVAL_SECONDS)
