"""Reads of training that other parts call: the published handbooks (the public page and the
bot's /handbook) and the training figures (the dashboards).

These take rows the caller has already scoped; they apply no user scope themselves.

What the figures count:
- a person is *trained in a topic* when they passed a session of a course covering that topic
  (a person counts once per topic, however many such courses they passed);
- a session is *held* when it has ended and at least one person attended it;
- with ``since``/``until`` only sessions starting on those days (inclusive, local time) count.
Per commune: members on the commune's roster (wherever they were trained), residents trained at
sessions held in the commune, sessions held in the commune. Per team: the team's current
members, residents trained at sessions one of them gave, sessions one of them gave.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from cnsc.geo.models import AdminUnit
from cnsc.team.models import Member, Team
from cnsc.training.models import Attendance, Handbook, Topic, TrainingSession

# --- Handbooks ------------------------------------------------------------------------------


def handbooks_published(
    *, commune: AdminUnit | None = None, audience: str | None = None
) -> dict[Topic, list[Handbook]]:
    """Published handbooks grouped by topic, topics in their usual order, empty topics left out.

    ``commune``: what that commune's people read (its own handbooks first, then its province's);
    None: every published handbook. ``audience``: members or residents; None: both.
    """
    handbooks = Handbook.objects.published().select_related("unit")
    if commune is not None:
        handbooks = handbooks.for_commune(commune)
    if audience is not None:
        handbooks = handbooks.filter(audience=audience)
    groups: dict[Topic, list[Handbook]] = {topic: [] for topic in Topic}
    # "commune" sorts before "province": a commune's own handbook comes before the province's.
    for handbook in handbooks.order_by("unit__level", "search_name", "pk"):
        groups[Topic(handbook.topic)].append(handbook)
    return {topic: items for topic, items in groups.items() if items}


# --- Figures --------------------------------------------------------------------------------


def _zero_topics() -> dict[str, int]:
    return dict.fromkeys(Topic.values, 0)


@dataclass(frozen=True)
class TrainingFigures:
    members_trained_by_topic: dict[str, int] = field(default_factory=_zero_topics)
    members_trained: int = 0
    residents_trained: int = 0
    sessions_held: int = 0


@dataclass(frozen=True)
class MemberTrainingFigures:
    courses_passed: int
    sessions_given: int


def _period(prefix: str, since: dt.date | None, until: dt.date | None) -> Q:
    condition = Q()
    if since is not None:
        condition &= Q(**{f"{prefix}starts_at__date__gte": since})
    if until is not None:
        condition &= Q(**{f"{prefix}starts_at__date__lte": until})
    return condition


def held_sessions(
    *, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[TrainingSession]:
    present = Attendance.objects.filter(session=OuterRef("pk"), attended=True)
    return TrainingSession.objects.filter(
        Exists(present), _period("", since, until), ends_at__lte=timezone.now()
    )


def _passed(since: dt.date | None, until: dt.date | None) -> QuerySet[Attendance]:
    return Attendance.objects.filter(_period("session__", since, until), passed=True)


def _assemble(
    keys: Iterable[int],
    by_topic: Iterable[dict[str, Any]],
    members: Iterable[dict[str, Any]],
    residents: Iterable[dict[str, Any]],
    sessions: Iterable[dict[str, Any]],
) -> dict[int, TrainingFigures]:
    topics: dict[int, dict[str, int]] = defaultdict(_zero_topics)
    for row in by_topic:
        if row["topic"] is not None:
            topics[row["key"]][row["topic"]] = row["n"]
    member_counts = {row["key"]: row["n"] for row in members}
    resident_counts = {row["key"]: row["n"] for row in residents}
    session_counts = {row["key"]: row["n"] for row in sessions}
    return {
        key: TrainingFigures(
            members_trained_by_topic=dict(topics[key]),
            members_trained=member_counts.get(key, 0),
            residents_trained=resident_counts.get(key, 0),
            sessions_held=session_counts.get(key, 0),
        )
        for key in keys
    }


def training_figures_by_commune(
    *,
    communes: Iterable[AdminUnit] | QuerySet[AdminUnit],
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[int, TrainingFigures]:
    """Figures for each commune, by commune id (every commune given has an entry), in four
    grouped queries whatever the number of communes."""
    ids = [c.pk for c in communes]
    passed = _passed(since, until)
    members = passed.filter(member__commune_id__in=ids)
    return _assemble(
        ids,
        members.values(key=F("member__commune_id"), topic=F("session__course__topics__topic"))
        .annotate(n=Count("member_id", distinct=True))
        .order_by(),
        members.values(key=F("member__commune_id"))
        .annotate(n=Count("member_id", distinct=True))
        .order_by(),
        passed.filter(resident__isnull=False, session__commune_id__in=ids)
        .values(key=F("session__commune_id"))
        .annotate(n=Count("resident_id", distinct=True))
        .order_by(),
        held_sessions(since=since, until=until)
        .filter(commune_id__in=ids)
        .values(key=F("commune_id"))
        .annotate(n=Count("id"))
        .order_by(),
    )


def training_figures_by_team(
    *,
    teams: Iterable[Team] | QuerySet[Team],
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[int, TrainingFigures]:
    """Figures for each team, by team id, counting the team's current members."""
    ids = [t.pk for t in teams]
    passed = _passed(since, until)
    members = passed.filter(
        member__memberships__team_id__in=ids, member__memberships__left_on__isnull=True
    )
    taught = passed.filter(
        resident__isnull=False,
        session__trainers__memberships__team_id__in=ids,
        session__trainers__memberships__left_on__isnull=True,
    )
    given = held_sessions(since=since, until=until).filter(
        trainers__memberships__team_id__in=ids, trainers__memberships__left_on__isnull=True
    )
    return _assemble(
        ids,
        members.values(
            key=F("member__memberships__team_id"),
            topic=F("session__course__topics__topic"),
        )
        .annotate(n=Count("member_id", distinct=True))
        .order_by(),
        members.values(key=F("member__memberships__team_id"))
        .annotate(n=Count("member_id", distinct=True))
        .order_by(),
        taught.values(key=F("session__trainers__memberships__team_id"))
        .annotate(n=Count("resident_id", distinct=True))
        .order_by(),
        given.values(key=F("trainers__memberships__team_id"))
        .annotate(n=Count("id", distinct=True))
        .order_by(),
    )


def commune_training_figures(
    *, commune: AdminUnit, since: dt.date | None = None, until: dt.date | None = None
) -> TrainingFigures:
    return training_figures_by_commune(communes=[commune], since=since, until=until)[commune.pk]


def team_training_figures(
    *, team: Team, since: dt.date | None = None, until: dt.date | None = None
) -> TrainingFigures:
    return training_figures_by_team(teams=[team], since=since, until=until)[team.pk]


def member_training_figures(*, member: Member) -> MemberTrainingFigures:
    """Courses the member has passed (each course once) and sessions held that they gave."""
    return MemberTrainingFigures(
        courses_passed=Attendance.objects.filter(member=member, passed=True)
        .values("session__course_id")
        .distinct()
        .count(),
        sessions_given=held_sessions().filter(trainers=member).count(),
    )
