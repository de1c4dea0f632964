"""Background jobs of the bot, run by the django-tasks worker (``manage.py db_worker``)."""

from __future__ import annotations

import datetime as dt
import time

from asgiref.sync import async_to_sync
from django.db.models import Min
from django.utils import timezone
from django_tasks import task
from telegram import Bot

from .broadcasting import RunResult, send_due
from .models import BroadcastDelivery, DeliveryState

# One run sends for at most this long, then hands over to a fresh run: a worker restart or a
# deploy never has to wait for a province-wide notice to finish.
RUN_SECONDS = 300


def deliver_queued(bot: Bot, *, run_seconds: float = RUN_SECONDS) -> RunResult:
    """Send what is due now, then schedule the next run for what is still queued (after a
    "retry after", a back-off, or the end of this run's time). Idempotent: a sent delivery is
    never sent again, so running it twice, or after a crash, is safe."""

    async def run() -> RunResult:
        async with bot:
            return await send_due(bot, deadline=time.monotonic() + run_seconds)

    result = async_to_sync(run)()
    next_at = (
        result.resume_at
        or BroadcastDelivery.objects.filter(state=DeliveryState.QUEUED).aggregate(
            at=Min("not_before")
        )["at"]
    )
    if next_at is not None:
        send_broadcasts.using(
            run_after=max(next_at, timezone.now() + dt.timedelta(seconds=1))
        ).enqueue()
    return result


def follow_up_at(at: dt.datetime) -> None:
    """Make sure a delivery run is queued for ``at`` or later, without piling up runs: one is
    added only when none is waiting from then on."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=send_broadcasts.module_path, run_after__gte=at
    )
    if not waiting.exists():
        send_broadcasts.using(run_after=at).enqueue()


@task()
def send_broadcasts() -> dict[str, int]:
    from .application import make_bot

    return {str(k): v for k, v in deliver_queued(make_bot()).counts.items()}
