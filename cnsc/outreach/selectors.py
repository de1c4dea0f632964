"""Reads the bot and the dashboards share: worklists, "not visited lately", household search,
residents with their services, answers waiting to be delivered.

Every worklist is computed per team (a few hundred to a few thousand households) from the
household's ``last_visited_at`` and one correlated count per open service, served by the indexes
on ``Household(team, last_visited_at)``, ``Resident(household)`` and ``ServiceState(resident,
service)``: the cost does not grow with the province.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from cnsc.core.text import search_key
from cnsc.team.models import Member, Membership, Team, TeamStatus

from . import catalogue
from .catalogue import Result, State
from .models import FieldReport, Household, Resident, ServiceState


def member_team(member: Member) -> Team | None:
    """The active team the member is in now, if any."""
    membership = (
        Membership.objects.select_related("team")
        .filter(member=member, left_on__isnull=True, team__status=TeamStatus.ACTIVE)
        .first()
    )
    return membership.team if membership else None


def with_open_items(households: QuerySet[Household]) -> QuerySet[Household]:
    """Annotate ``open_<service>`` for each worklist service (residents of the age the service
    counts from, not erased, not at the service's goal, not found not eligible) and
    ``open_items``, their sum.

    One pass over the households' residents and their states of those services (joined, then
    grouped per household): correlated subqueries per household and service cost PostgreSQL
    several times as much to plan and run, and were evaluated again for the filter and the
    ordering."""
    year = timezone.localdate().year
    aliases: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    for service, min_age in catalogue.WORKLIST_SERVICES.items():
        state = f"_worklist_{service}"
        aliases[state] = FilteredRelation(
            "residents__service_states",
            condition=Q(residents__service_states__service=service),
        )
        annotations[f"open_{service}"] = Count(
            "residents",
            filter=Q(residents__erased_at__isnull=True)
            & (Q(residents__birth_year__isnull=True) | Q(residents__birth_year__lte=year - min_age))
            & ~Q(**{f"{state}__state": catalogue.GOAL[service]})
            & ~Q(**{f"{state}__last_result": Result.NOT_ELIGIBLE}),
        )
    total = sum((F(name) for name in annotations), Value(0))
    return households.alias(**aliases).annotate(**annotations).annotate(open_items=total)


def _worklist(households: QuerySet[Household], *, first: Any = None) -> QuerySet[Household]:
    ordering: list[Any] = [
        "-open_items",
        F("last_visited_at").asc(nulls_first=True),
        "code",
    ]
    if first is not None:
        ordering.insert(0, first)
    return (
        with_open_items(households)
        .filter(Q(last_visited_at__isnull=True) | Q(open_items__gt=0))
        .select_related("head", "hamlet")
        .order_by(*ordering)
    )


def worklist_for_team(*, team: Team, limit: int = 20, offset: int = 0) -> list[Household]:
    """The team's households still to work on: never visited, or with residents whose VNeID is
    not at level 2 or who have no payment account. Most open items first, then the longest
    unvisited. Each household carries ``open_items``, ``open_vneid`` and ``open_payment``."""
    return list(_worklist(Household.objects.filter(team=team))[offset : offset + limit])


def worklist_for_member(
    *, member: Member, team: Team | None = None, limit: int = 20, offset: int = 0
) -> list[Household]:
    """Like ``worklist_for_team`` for the member's current team, limited to households assigned
    to the member or to nobody, the member's own first. Empty for a member in no active team.
    ``team``: the member's current team when the caller has just read it (the bot has), to
    spare reading it again."""
    if team is None:
        team = member_team(member)
    if team is None:
        return []
    households = Household.objects.filter(team=team).filter(
        Q(assigned_member=member) | Q(assigned_member__isnull=True)
    )
    mine_first = Case(
        When(assigned_member_id=member.pk, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return list(_worklist(households, first=mine_first)[offset : offset + limit])


def households_not_visited_since(*, team: Team, days: int) -> QuerySet[Household]:
    """The team's households without a visit in the last ``days`` days (or ever), the longest
    unvisited first."""
    since = timezone.now() - dt.timedelta(days=days)
    return (
        Household.objects.filter(team=team)
        .filter(Q(last_visited_at__isnull=True) | Q(last_visited_at__lt=since))
        .select_related("head", "hamlet")
        .order_by(F("last_visited_at").asc(nulls_first=True), "code")
    )


def household_search(
    *, member: Member, text: str, team: Team | None = None, limit: int = 10
) -> list[Household]:
    """Households of the member's current team matching ``text``: the household code, or part
    of the head's name or of the address, with or without diacritics ("nguyen van a", "12/3").
    ``team``: as for ``worklist_for_member``."""
    if team is None:
        team = member_team(member)
    text = (text or "").strip()
    if team is None or not text:
        return []
    key = search_key(text)
    matches = Q(code__iexact=text)
    if key:
        matches |= Q(search_name__contains=key)
    exact_code_first = Case(
        When(code__iexact=text, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return list(
        Household.objects.filter(team=team)
        .filter(matches)
        .select_related("head", "hamlet")
        .order_by(exact_code_first, "address_key", "code")[:limit]
    )


def household_residents(*, household: Household) -> list[Resident]:
    """The residents of a household (not erased), head first, each with ``states``: service ->
    current state (missing services are "none")."""
    residents = list(
        household.residents.filter(erased_at__isnull=True)
        .prefetch_related(Prefetch("service_states", queryset=ServiceState.objects.all()))
        .order_by(
            Case(When(pk=household.head_id or 0, then=Value(0)), default=Value(1)),
            "birth_year",
            "pk",
        )
    )
    for resident in residents:
        states = {s.service: s.state for s in resident.service_states.all()}
        resident.states = {  # type: ignore[attr-defined]
            service: states.get(service, State.NONE) for service in catalogue.STATES
        }
    return residents


def field_reports_to_notify(*, limit: int = 100) -> list[FieldReport]:
    """Answered reports whose reporter has not been told yet, oldest answer first (for the bot,
    which calls ``field_report_mark_notified`` after sending each)."""
    return list(
        FieldReport.objects.filter(answered_at__isnull=False, reporter_notified_at__isnull=True)
        .select_related("reporter")
        .order_by("answered_at")[:limit]
    )
