"""Keeping the figures fresh: recompute everything, or only what changed since the last run.

``indicators_refresh`` is meant to run every minute (README, "Indicators"): it reads what was
recorded since its watermark (visits, service changes, households, residents, hamlets, teams,
memberships, targets), and recomputes the periods from the earliest day touched onwards, for the
communes touched (all of them on a new day), then rolls their provinces and former units up
again. Stocks are counted from the stored figures of the day before the earliest change, plus
the changes since. A visit recorded now is in the figures at the next run.

What a watermark cannot see (a household moved to another hamlet or team, a row deleted, a bulk
update that bypasses the change history) reaches the figures at the nightly
``indicators_recompute``, which counts everything again from the raw rows.

Both are idempotent: a second run with nothing new recorded changes nothing but ``computed_at``
of what it recomputes (``refresh`` recomputes nothing then, even right after another run, when
the rows it looks at again were all there when that run began: ``changes_fingerprint``).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from cnsc.geo.models import Hamlet
from cnsc.outreach.models import Household, Resident, ServiceEvent, Visit
from cnsc.team.models import Membership, Target, Team

from . import compute
from .models import ApiClient, RefreshState
from .periods import horizon

STATE = "indicators"
# Rows are stamped with the web or bot server's clock, the watermark with this one's: every run
# also looks this far behind it (counting a row twice is harmless, missing one is not).
CLOCK_SKEW = dt.timedelta(seconds=10)


@dataclass
class RefreshResult:
    mode: str  # "full", "incremental", "idle" (nothing new) or "busy" (another run holds the lock)
    seconds: float = 0.0
    communes: int | None = None
    periods: int = 0
    values: int = 0
    since: dt.datetime | None = None
    # Stocks counted from this day's stored figures (None: from the beginning).
    base: dt.date | None = None

    def __str__(self) -> str:
        if self.mode == "busy":
            return "another run is in progress: nothing done"
        if self.mode == "idle":
            return f"nothing recorded since {self.since:%Y-%m-%d %H:%M:%S}: nothing to do"
        where = "all communes" if self.communes is None else f"{self.communes} commune(s)"
        base = f", stocks from {self.base:%Y-%m-%d}" if self.base else ""
        return (
            f"{self.mode}: {self.values:,} figures for {self.periods} period(s) of {where}{base} "
            f"in {self.seconds:.1f}s"
        )


def _state(*, wait: bool) -> RefreshState | None:
    RefreshState.objects.get_or_create(name=STATE)
    rows = RefreshState.objects.filter(name=STATE)
    return (
        rows.select_for_update().first()
        if wait
        else rows.select_for_update(skip_locked=True).first()
    )


def indicators_recompute(*, now: dt.datetime | None = None) -> RefreshResult:
    """Every figure of every unit and every kept period, from scratch. Waits for a running
    refresh to finish; readers see the old figures until this one commits."""
    started = time.perf_counter()
    with transaction.atomic():
        state = _state(wait=True)
        assert state is not None
        now = now or timezone.now()
        today = timezone.localdate(now)
        watermark = safe_watermark(now)
        fingerprint = changes_fingerprint(watermark - CLOCK_SKEW)
        periods = horizon(today).periods()
        outcome = compute.run(
            compute.Plan(
                periods=periods, today=today, computed_at=now, communes=None, replace_all=True
            )
        )
        seconds = time.perf_counter() - started
        state.watermark = watermark
        state.last_run_at = now
        state.last_full_at = now
        state.last_seconds = seconds
        state.last_summary = {"mode": "full", "values": outcome.values, "fingerprint": fingerprint}
        state.save()
    return RefreshResult("full", seconds, None, len(periods), outcome.values)


def indicators_refresh(*, now: dt.datetime | None = None) -> RefreshResult:
    """Recompute what changed since the last run. The first run recomputes everything."""
    started = time.perf_counter()
    known = RefreshState.objects.filter(name=STATE).values_list("watermark", flat=True).first()
    if known is None:
        return indicators_recompute(now=now)
    with transaction.atomic():
        state = _state(wait=False)
        if state is None or state.watermark is None:
            return RefreshResult("busy")
        now = now or timezone.now()
        today = timezone.localdate(now)
        since = state.watermark - CLOCK_SKEW
        new_day = timezone.localdate(state.watermark) != today
        # What the next run will look at, taken before this one reads anything: a row that
        # arrives while this run reads is counted again by the next one, never missed.
        watermark = safe_watermark(now)
        fingerprint = changes_fingerprint(watermark - CLOCK_SKEW)
        # The rows since the watermark less CLOCK_SKEW were all there when the last run began
        # (and so were counted by it): nothing to do, though the window is not empty.
        seen = not new_day and state.last_summary.get("fingerprint") == changes_fingerprint(since)
        changed = {} if seen else changes_since(since, today=today)
        targets = set() if seen else roster_targets_since(since)
        if not changed and not new_day and not targets:
            state.watermark = watermark
            state.last_run_at = now
            state.last_summary = {**state.last_summary, "fingerprint": fingerprint}
            state.save(update_fields=["watermark", "last_run_at", "last_summary"])
            return RefreshResult("idle", since=since)
        # A new day starts new periods for every unit: their stocks are counted for all
        # communes, once.
        first_day = min([*changed.values(), *([today] if new_day else [])], default=today)
        periods = (
            [p for p in horizon(today).periods() if p.end >= first_day]
            if (changed or new_day)
            else []
        )
        base = base_day(
            first_day - dt.timedelta(days=1), timezone.localdate(state.watermark), today
        )
        outcome = compute.run(
            compute.Plan(
                periods=periods,
                today=today,
                computed_at=now,
                communes=None if new_day else set(changed),
                base=base,
            )
        )
        values = outcome.values + compute.roster_targets_apply(targets)
        seconds = time.perf_counter() - started
        state.watermark = watermark
        state.last_run_at = now
        state.last_seconds = seconds
        state.last_summary = {
            "mode": "incremental",
            "communes": None if new_day else len(changed),
            "periods": len(periods),
            "values": values,
            "fingerprint": fingerprint,
        }
        state.save()
    return RefreshResult(
        "incremental",
        seconds,
        None if new_day else len(changed),
        len(periods),
        values,
        since,
        base,
    )


def base_day(wanted: dt.date, last_run: dt.date, today: dt.date) -> dt.date | None:
    """The day whose stored stocks a refresh can count on: no later than ``wanted`` (the day
    before the earliest change) nor than the last run's day (later days were never computed),
    one of the days kept, and with figures stored. None: count stocks from the beginning."""
    from .models import IndicatorValue
    from .periods import PeriodType, period_containing

    day = min(wanted, last_run)
    period = period_containing(PeriodType.DAY, day)
    if not horizon(today).keeps(period):
        return None
    stored = IndicatorValue.objects.filter(
        unit_type="commune", period=period.code, indicator__in=compute.DELTA_STOCKS
    ).exists()
    return day if stored else None


def safe_watermark(now: dt.datetime) -> dt.datetime:
    """How far the next run may start reading. A transaction still open (an import, a slow
    request) may commit rows stamped before ``now`` after this run has read the tables: on
    PostgreSQL the watermark stays at the start of the oldest such transaction, so they are
    read next time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND xact_start IS NOT NULL"
        )
        oldest = cursor.fetchone()[0]
    return min(now, oldest) if oldest is not None else now


def changes_fingerprint(since: dt.datetime) -> list[list[Any]]:
    """How many rows of each kind that ``changes_since`` reads were recorded after ``since``, and
    the last of them: the same answer twice means nothing was recorded in between (every table
    read is only ever added to, except visits, whose edits leave a history row)."""
    sources: list[tuple[Any, str, str]] = [
        (Visit.objects, "recorded_at", "id"),
        (Visit.history, "history_date", "history_id"),
        (ServiceEvent.objects, "recorded_at", "id"),
        (Household.history, "history_date", "history_id"),
        (Resident.history, "history_date", "history_id"),
        (Hamlet.history, "history_date", "history_id"),
        (Team.history, "history_date", "history_id"),
        (Membership.history, "history_date", "history_id"),
        (Target.history, "history_date", "history_id"),
    ]
    out = []
    for manager, stamp, key in sources:
        row = manager.filter(**{f"{stamp}__gt": since}).aggregate(n=Count("pk"), last=Max(key))
        out.append([row["n"], row["last"]])
    return out


def changes_since(since: dt.datetime, *, today: dt.date) -> dict[int, dt.date]:
    """Each commune with something recorded after ``since``, and the earliest day it touches."""
    out: dict[int, dt.date] = {}

    def touch(commune_id: int | None, day: Any) -> None:
        if commune_id is None:
            return
        if isinstance(day, dt.datetime):
            day = timezone.localdate(day)
        day = min(day or today, today)
        out[commune_id] = min(out.get(commune_id, day), day)

    visits = (
        Visit.objects.filter(Q(recorded_at__gt=since) | Q(edited_at__gt=since))
        .values("commune_id", "household__commune_id", "team__commune_id")
        .annotate(first=Min("happened_at"))
        .order_by()
    )
    for row in visits:
        for key in ("commune_id", "household__commune_id", "team__commune_id"):
            touch(row[key], row["first"])
    events = (
        ServiceEvent.objects.filter(recorded_at__gt=since)
        .values("resident__household__commune_id", "resident__household__team__commune_id")
        .annotate(first=Min("happened_at"))
        .order_by()
    )
    for row in events:
        touch(row["resident__household__commune_id"], row["first"])
        touch(row["resident__household__team__commune_id"], row["first"])
    # Households and residents: created today, or changed now (their past at the nightly run).
    team_commune = dict(Team.objects.values_list("id", "commune_id"))
    households = Household.history.filter(history_date__gt=since)
    for commune_id, team_id in households.values_list("commune_id", "team_id").distinct():
        touch(commune_id, today)
        touch(team_commune.get(team_id), today)
    residents = Resident.history.filter(history_date__gt=since).values("household_id")
    for commune_id, team_id in (
        Household.objects.filter(id__in=residents).values_list("commune_id", "team_id").distinct()
    ):
        touch(commune_id, today)
        touch(team_commune.get(team_id), today)
    # The roster: from the earliest date the changed rows carry.
    for commune_id, *days in Hamlet.history.filter(history_date__gt=since).values_list(
        "commune_id", "created_on", "retired_on"
    ):
        touch(commune_id, min([d for d in days if d] or [today]))
    for commune_id, *days in Team.history.filter(history_date__gt=since).values_list(
        "commune_id", "decision_date", "status_since", "created_at"
    ):
        touch(commune_id, min([_day(d) for d in days if d] or [today]))
    for team_id, *days in Membership.history.filter(history_date__gt=since).values_list(
        "team_id", "joined_on", "left_on"
    ):
        touch(team_commune.get(team_id), min([d for d in days if d] or [today]))
    return out


def _day(value: dt.date | dt.datetime) -> dt.date:
    return timezone.localdate(value) if isinstance(value, dt.datetime) else value


def roster_targets_since(since: dt.datetime) -> set[tuple[int, int]]:
    """(unit, year) of every roster target changed after ``since``."""
    return set(
        Target.history.filter(history_date__gt=since).values_list("unit_id", "year").distinct()
    )


@transaction.atomic
def api_client_create(*, name: str, unit_ids: list[int]) -> tuple[ApiClient, str]:
    """A new API client reading these units; returns it with its token (never stored)."""
    client = ApiClient(name=name.strip())
    token = client.set_token()
    client.full_clean(exclude=["units"])
    client.save()
    client.units.set(unit_ids)
    return client, token


@transaction.atomic
def api_client_new_token(*, client: ApiClient) -> str:
    """Replace the client's token: the old one stops working at once."""
    token = client.set_token()
    client.save(update_fields=["token_hash", "token_hint"])
    return token
