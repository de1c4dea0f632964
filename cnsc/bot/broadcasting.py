"""Sending queued broadcast deliveries within Telegram's limits.

About 30 messages a second overall and one a second per chat: we stay under both. When Telegram
says "retry after N seconds" the run stops and the rest waits in the queue until then (nothing
sleeps for minutes holding a worker). A member who blocked the bot is marked so and not tried
again; network trouble is retried a few times with growing pauses; any other refusal fails the
delivery with Telegram's reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.utils import timezone
from django.utils.translation import gettext as _
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from .models import DeliveryState
from .services import DeliveryJob, deliveries_claim, deliveries_release, delivery_mark

logger = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 25
PER_CHAT_SECONDS = 1.0
MAX_ATTEMPTS = 4
BACKOFF = (dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=10))
BATCH = 100


@dataclass
class RunResult:
    counts: Counter[str] = field(default_factory=Counter)
    # Set when Telegram asked to slow down: the queue is to be looked at again then.
    resume_at: dt.datetime | None = None


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


async def send_due(
    bot: Bot,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RunResult:
    """Send every queued delivery whose time has come (until ``deadline``, a monotonic time)."""
    result = RunResult()
    last_in_chat: dict[int, float] = {}
    claim = sync_to_async(deliveries_claim)
    mark = sync_to_async(delivery_mark)
    while deadline is None or time.monotonic() < deadline:
        jobs = await claim(now=timezone.now(), limit=BATCH)
        if not jobs:
            break
        for index, job in enumerate(jobs):
            ready = last_in_chat.get(job.chat_id, -PER_CHAT_SECONDS) + PER_CHAT_SECONDS
            if ready > time.monotonic():
                await sleep(ready - time.monotonic())
            outcome, wait = await _send_one(bot, job, mark)
            last_in_chat[job.chat_id] = time.monotonic()
            result.counts[outcome] += 1
            if wait is not None:
                # Telegram's flood control covers the whole bot: nothing more until then.
                resume = timezone.now() + dt.timedelta(seconds=wait)
                await sync_to_async(deliveries_release)(
                    ids=[j.id for j in jobs[index + 1 :]], at=resume
                )
                result.resume_at = resume
                return result
            await sleep(1 / MESSAGES_PER_SECOND)
    return result


async def _send_one(
    bot: Bot, job: DeliveryJob, mark: Callable[..., Awaitable[None]]
) -> tuple[str, float | None]:
    """Send one delivery and record what happened: (outcome, seconds Telegram asked to wait)."""
    try:
        message = await bot.send_message(chat_id=job.chat_id, text=job.text)
    except RetryAfter as exc:
        seconds = retry_after_seconds(exc)
        await mark(
            job_id=job.id,
            state=DeliveryState.QUEUED,
            reason=_("Telegram asked to wait %(seconds)d s.") % {"seconds": seconds},
            retry_at=timezone.now() + dt.timedelta(seconds=seconds),
            count_attempt=False,
        )
        return "retry_after", seconds
    except Forbidden:
        await mark(
            job_id=job.id,
            state=DeliveryState.BLOCKED,
            reason=_("The member blocked the bot or deleted their Telegram account."),
        )
        return DeliveryState.BLOCKED, None
    except BadRequest as exc:
        await mark(job_id=job.id, state=DeliveryState.FAILED, reason=str(exc))
        return DeliveryState.FAILED, None
    except TelegramError as exc:
        # NetworkError: time-outs, lost connections and Telegram's own 5xx answers; worth
        # another try after a pause.
        attempt = job.attempts + 1
        if attempt >= MAX_ATTEMPTS:
            await mark(job_id=job.id, state=DeliveryState.FAILED, reason=str(exc))
            return DeliveryState.FAILED, None
        pause = BACKOFF[min(attempt, len(BACKOFF)) - 1]
        logger.warning("broadcast delivery %s: %s; retrying in %s", job.id, exc, pause)
        await mark(
            job_id=job.id,
            state=DeliveryState.QUEUED,
            reason=str(exc),
            retry_at=timezone.now() + pause,
        )
        return "retry", None
    await mark(job_id=job.id, state=DeliveryState.SENT, message_id=message.message_id)
    return DeliveryState.SENT, None
