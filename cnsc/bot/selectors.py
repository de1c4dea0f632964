"""Reads of the bot's own tables. Who a Telegram user is, asked afresh on every update: a member
who left their team loses access with their next message, not after a cache expires."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from cnsc.geo.models import Hamlet
from cnsc.outreach.catalogue import Result
from cnsc.outreach.models import Household, Visit, VisitOutcome
from cnsc.team.models import Member, Membership, Team, TeamStatus

from .models import TelegramAccount


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


def actor_for(*, telegram_user_id: int) -> Actor | None:
    # One query for a member in a team (nearly every update), a second only otherwise.
    membership = (
        Membership.objects.select_related("member__telegram", "team")
        .filter(
            member__telegram__telegram_user_id=telegram_user_id,
            left_on__isnull=True,
            team__status=TeamStatus.ACTIVE,
        )
        .first()
    )
    if membership is not None:
        member = membership.member
        return Actor(account=member.telegram, member=member, membership=membership)
    account = (
        TelegramAccount.objects.select_related("member")
        .filter(telegram_user_id=telegram_user_id)
        .first()
    )
    if account is None:
        return None
    return Actor(account=account, member=account.member, membership=None)


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
