"""Reads of the bot's own tables. Who a Telegram user is, asked afresh on every update: a member
who left their team loses access with their next message, not after a cache expires."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection
from django.db.models import Count, Model
from django.utils import timezone

from cnsc.geo.models import Hamlet
from cnsc.outreach.catalogue import Result
from cnsc.outreach.models import Household, Visit, VisitOutcome
from cnsc.team.models import Member, Membership, Team, TeamStatus

from .models import BotConversation, TelegramAccount


@dataclass(frozen=True)
class Actor:
    """The member behind a Telegram account, and the team they are in now (None: in no active
    team, so they may do nothing but read help)."""

    account: TelegramAccount
    member: Member
    membership: Membership | None

    @property
    def team(self) -> Team | None:
        return self.membership.team if self.membership else None


# A model's columns in a statement: the attribute each fills and the conversions the ORM would
# apply to it (JSON decoded, SQLite's dates and booleans, ...).
_Layout = list[tuple[type[Model], list[str], list[tuple[Any, list[Any]]]]]


def _part(model: type[Model], alias: str) -> tuple[list[str], _Layout]:
    """``model``'s columns under ``alias`` and their layout entry."""
    fields = model._meta.concrete_fields
    conversions = []
    for field in fields:
        col = field.get_col(alias)
        converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        conversions.append((col, converters))
    columns = [f'{alias}."{f.column}"' for f in fields]
    return columns, [(model, [f.attname for f in fields], conversions)]


@functools.cache
def _actor_query() -> tuple[str, _Layout]:
    """The SQL of ``actor_for`` and how to read its columns back into models. Written once per
    process from the models' own fields (the ORM would build the same statement anew on every
    update, which was a fifth of the bot's CPU)."""
    columns: list[str] = []
    layout: _Layout = []
    for model, alias in [(TelegramAccount, "a"), (Member, "m"), (Membership, "ms"), (Team, "t")]:
        part_columns, part_layout = _part(model, alias)
        columns += part_columns
        layout += part_layout
    sql = f"""SELECT {", ".join(columns)}
        FROM "{TelegramAccount._meta.db_table}" a
        JOIN "{Member._meta.db_table}" m ON m."id" = a."member_id"
        LEFT JOIN ("{Membership._meta.db_table}" ms
                   JOIN "{Team._meta.db_table}" t
                     ON t."id" = ms."team_id" AND t."status" = %s)
          ON ms."member_id" = m."id" AND ms."left_on" IS NULL
        WHERE a."telegram_user_id" = %s
        ORDER BY ms."joined_on" DESC
        LIMIT 1"""  # noqa: S608 (names from the models, values as parameters)
    return sql, layout


def _read(layout: _Layout, row: tuple[Any, ...]) -> list[Model | None]:
    instances: list[Model | None] = []
    start = 0
    for model, attnames, conversions in layout:
        values = list(row[start : start + len(attnames)])
        start += len(attnames)
        if values[0] is None:  # no such row (a LEFT JOIN's side): its primary key is NULL
            instances.append(None)
            continue
        for i, (col, converters) in enumerate(conversions):
            for converter in converters:
                values[i] = converter(values[i], col, connection)
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


def actor_for(*, telegram_user_id: int) -> Actor | None:
    """The member linked to this Telegram user, with their current membership of an active
    team: one statement, asked afresh on every update."""
    if not -(2**63) <= telegram_user_id < 2**63:
        return None  # beyond the column's range: nobody (Telegram's ids are far smaller)
    sql, layout = _actor_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [TeamStatus.ACTIVE, telegram_user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    instances = _read(layout, row)
    account = cast(TelegramAccount, instances[0])
    member = cast(Member, instances[1])
    account.member = member  # sets member.telegram too (one-to-one)
    membership = cast(Membership | None, instances[2])
    if membership is not None:
        membership.member, membership.team = member, cast(Team, instances[3])
    return Actor(account=account, member=member, membership=membership)


@functools.cache
def _conversation_query(for_update: bool) -> tuple[str, _Layout]:
    columns, layout = _part(BotConversation, "c")
    sql = f"""SELECT {", ".join(columns)} FROM "{BotConversation._meta.db_table}" c
        WHERE c."chat_id" = %s{" FOR UPDATE" if for_update else ""}"""  # noqa: S608
    return sql, layout


def conversation_for_update(*, chat_id: int) -> BotConversation | None:
    """The chat's running flow, locked until the transaction ends (so the same chat's next
    update, from another worker or process, waits for this one). One statement written once
    per process, as ``actor_for``."""
    sql, layout = _conversation_query(connection.features.has_select_for_update)
    with connection.cursor() as cursor:
        cursor.execute(sql, [chat_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return cast(BotConversation, _read(layout, row)[0])


# --- Figures and places for the member ----------------------------------------------------------


@dataclass(frozen=True)
class MemberStats:
    week: dict[str, int]
    month: dict[str, int]
    rank: int | None
    teams: int


def _period(member: Member, since: dt.datetime) -> dict[str, int]:
    visits = Visit.objects.filter(member=member, happened_at__gte=since)
    results = dict(
        VisitOutcome.objects.filter(visit__in=visits)
        .values_list("result")
        .annotate(n=Count("pk"))
        .values_list("result", "n")
    )
    figures = {
        "visits": visits.count(),
        "households": visits.values("household_id").distinct().count(),
    }
    figures.update({result: results.get(result, 0) for result in Result.values})
    return figures


def member_stats(*, member: Member, team: Team, now: dt.datetime | None = None) -> MemberStats:
    """The member's visits and outcomes since Monday and since the 1st (local time), and the
    rank of their team among the commune's active teams by visits this month."""
    today = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    week_start = today - dt.timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    per_team = dict(
        Visit.objects.filter(commune_id=team.commune_id, happened_at__gte=month_start)
        .values_list("team_id")
        .annotate(n=Count("pk"))
        .values_list("team_id", "n")
    )
    teams = Team.objects.filter(commune_id=team.commune_id, status=TeamStatus.ACTIVE).count()
    ours = per_team.get(team.pk, 0)
    rank = 1 + sum(1 for n in per_team.values() if n > ours)
    return MemberStats(
        week=_period(member, week_start),
        month=_period(member, month_start),
        rank=rank if teams else None,
        teams=teams,
    )


def team_hamlets(*, team: Team) -> list[Hamlet]:
    """The hamlets a team works in: its own and those of the households it covers."""
    ids = set(Household.objects.filter(team=team).values_list("hamlet_id", flat=True).distinct())
    if team.hamlet_id:
        ids.add(team.hamlet_id)
    return list(Hamlet.objects.filter(pk__in=ids, retired_on__isnull=True).order_by("name"))


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def nearest_hamlet(
    *, team: Team, latitude: float, longitude: float
) -> tuple[Hamlet | None, float | None]:
    """The team's hamlet nearest to the point, and how far its centre is (None when no hamlet of
    the team has a centre: then the team's own hamlet, or None for a team without one)."""
    hamlets = team_hamlets(team=team)
    placed = [h for h in hamlets if h.latitude is not None and h.longitude is not None]
    if not placed:
        own = next((h for h in hamlets if h.pk == team.hamlet_id), None)
        return own or (hamlets[0] if hamlets else None), None
    best = min(
        placed,
        key=lambda h: _distance_m(latitude, longitude, h.latitude or 0.0, h.longitude or 0.0),
    )
    return best, _distance_m(latitude, longitude, best.latitude or 0.0, best.longitude or 0.0)
