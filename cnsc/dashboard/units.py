"""The units figures are about, their public codes, and who may see them.

Public codes (URLs, API, exports; never a primary key):

    province          79              official code, 2 digits (Decision 19/2025/QĐ-TTg)
    commune           25747           official code, 5 digits
    former province   F74             "F" + the code it had until 30 June 2025
    former district   F718
    former commune    F25741
    hamlet            7K2MQ9XH4C      the hamlet's own random code
    team              25747-T01       commune code, "-", the team's code in its commune

Former codes carry the "F" because the reform reused numbers: 79 was Hồ Chí Minh City before
and after, 25747 a different ward.

Who sees what is ``cnsc.access.scope`` applied to units: a province and everything in it, a
commune and its hamlets and teams. A former unit is visible only to someone who sees every
current commune it went into, so grouping the old way cannot show a neighbour's households.
Team leaders see the teams they lead and nothing else. An API client reaches what a user
assigned to its units would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from cnsc.access.scope import Scope, scope_for
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level, UnitMapping
from cnsc.team.models import Team, _is_team_leader, led_team_ids

from .indicators import UnitType

FORMER_PREFIX = "F"
FORMER_TYPES = frozenset(
    {UnitType.FORMER_PROVINCE, UnitType.FORMER_DISTRICT, UnitType.FORMER_COMMUNE}
)
_LEVEL_OF: dict[str, tuple[str, str]] = {
    UnitType.PROVINCE: (Hierarchy.CURRENT, Level.PROVINCE),
    UnitType.COMMUNE: (Hierarchy.CURRENT, Level.COMMUNE),
    UnitType.FORMER_PROVINCE: (Hierarchy.FORMER, Level.PROVINCE),
    UnitType.FORMER_DISTRICT: (Hierarchy.FORMER, Level.DISTRICT),
    UnitType.FORMER_COMMUNE: (Hierarchy.FORMER, Level.COMMUNE),
}
_TYPE_OF: dict[tuple[str, str], str] = {levels: type_ for type_, levels in _LEVEL_OF.items()}
# A team's own code is typed by people: anything printable, as long as the field allows.
_TEAM_CODE = re.compile(r"(\d{5})-([^\x00-\x1f\x7f]{1,20})")
_HAMLET_CODE = re.compile(r"[A-Z0-9]{6,12}")
_FORMER_CODE = re.compile(r"F(\d{2}|\d{3}|\d{5})")
_FORMER_LENGTH = {
    2: UnitType.FORMER_PROVINCE,
    3: UnitType.FORMER_DISTRICT,
    5: UnitType.FORMER_COMMUNE,
}


@dataclass(frozen=True)
class UnitRef:
    type: str
    id: int
    code: str
    name: str
    # For current units, hamlets and teams: their commune (None for a province) and province.
    commune_id: int | None = None
    province_id: int | None = None
    # A hamlet's or team's commune name, to tell "Khu phố 1" of one ward from another's.
    context: str = ""

    @property
    def is_former(self) -> bool:
        return self.type in FORMER_TYPES

    @property
    def type_label(self) -> str:
        return str(UnitType(self.type).label)

    def __str__(self) -> str:
        return self.name


def unit_type_of(unit: AdminUnit) -> str:
    return _TYPE_OF[(unit.hierarchy, unit.level)]


def admin_unit_code(unit: AdminUnit) -> str:
    return FORMER_PREFIX + unit.code if unit.hierarchy == Hierarchy.FORMER else unit.code


def team_code(team: Team, commune_code: str) -> str:
    return f"{commune_code}-{team.code}"


def ref_of_unit(unit: AdminUnit) -> UnitRef:
    type_ = unit_type_of(unit)
    return UnitRef(
        type=type_,
        id=unit.pk,
        code=admin_unit_code(unit),
        name=unit.name,
        commune_id=unit.pk if type_ == UnitType.COMMUNE else None,
        province_id=unit.province_id
        if type_ == UnitType.COMMUNE
        else (unit.pk if type_ == UnitType.PROVINCE else unit.province_id),
    )


def ref_of_hamlet(hamlet: Hamlet) -> UnitRef:
    return UnitRef(
        type=UnitType.HAMLET,
        id=hamlet.pk,
        code=hamlet.code,
        name=hamlet.name,
        commune_id=hamlet.commune_id,
        province_id=hamlet.commune.province_id,
        context=hamlet.commune.name,
    )


def ref_of_team(team: Team) -> UnitRef:
    return UnitRef(
        type=UnitType.TEAM,
        id=team.pk,
        code=team_code(team, team.commune.code),
        name=team.name,
        commune_id=team.commune_id,
        province_id=team.commune.province_id,
        context=team.commune.name,
    )


def resolve(code: str) -> UnitRef | None:
    """The unit with this public code, or None. One query."""
    text = (code or "").strip()
    if not text or len(text) > 40:
        return None
    if text.isdigit() and len(text) in (2, 5):
        type_ = UnitType.PROVINCE if len(text) == 2 else UnitType.COMMUNE
        return _admin_unit(type_, text)
    if m := _FORMER_CODE.fullmatch(text.upper()):
        return _admin_unit(_FORMER_LENGTH[len(m[1])], m[1])
    if m := _TEAM_CODE.fullmatch(text):
        team = (
            Team.objects.select_related("commune")
            .filter(
                commune__hierarchy=Hierarchy.CURRENT,
                commune__level=Level.COMMUNE,
                commune__code=m[1],
                code=m[2],
            )
            .first()
        )
        return ref_of_team(team) if team else None
    if _HAMLET_CODE.fullmatch(text.upper()):
        hamlet = Hamlet.objects.select_related("commune").filter(code=text.upper()).first()
        return ref_of_hamlet(hamlet) if hamlet else None
    return None


def _admin_unit(type_: str, code: str) -> UnitRef | None:
    hierarchy, level = _LEVEL_OF[type_]
    unit = AdminUnit.objects.filter(hierarchy=hierarchy, level=level, code=code).first()
    return ref_of_unit(unit) if unit else None


def refs_by_id(type_: str, ids: Iterable[int]) -> dict[int, UnitRef]:
    """Many units of one type at once (for tables and API pages)."""
    ids = set(ids)
    if not ids:
        return {}
    if type_ == UnitType.HAMLET:
        return {
            h.pk: ref_of_hamlet(h)
            for h in Hamlet.objects.select_related("commune").filter(pk__in=ids)
        }
    if type_ == UnitType.TEAM:
        return {
            t.pk: ref_of_team(t) for t in Team.objects.select_related("commune").filter(pk__in=ids)
        }
    return {u.pk: ref_of_unit(u) for u in AdminUnit.objects.filter(pk__in=ids)}


# --- Who sees what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """The units a viewer (a user or an API client) may read figures of."""

    scope: Scope
    # Team leaders: exactly these teams and nothing else.
    teams: frozenset[int] | None = None

    @property
    def everything(self) -> bool:
        return self.scope.everything

    @property
    def is_empty(self) -> bool:
        return not self.scope.everything and not self.scope.assigned and not self.teams

    def sees(self, ref: UnitRef) -> bool:
        if self.scope.everything:
            return True
        if self.teams is not None:
            return ref.type == UnitType.TEAM and ref.id in self.teams
        assigned = self.scope.assigned
        if ref.type == UnitType.PROVINCE:
            return ref.id in assigned
        if ref.type in (UnitType.COMMUNE, UnitType.HAMLET, UnitType.TEAM):
            return ref.commune_id in assigned or ref.province_id in assigned
        return self._sees_former(ref)

    def _sees_former(self, ref: UnitRef) -> bool:
        successors = successors_of(ref)
        return (
            successors.exists()
            and not successors.exclude(current_id__in=self.scope.commune_ids()).exists()
        )

    def formers_seen(self, refs: list[UnitRef]) -> list[UnitRef]:
        """Those of these former units that ``sees`` shows, by the same rule (every current
        commune they went into is in scope), in two queries rather than two per unit."""
        if self.scope.everything:
            return list(refs)
        if self.teams is not None or not refs:
            return []
        ids = {r.id for r in refs}
        rows = UnitMapping.objects.filter(
            Q(former_id__in=ids) | Q(former__parent_id__in=ids) | Q(former__province_id__in=ids)
        ).values_list("former_id", "former__parent_id", "former__province_id")
        mapped = {i for row in rows for i in row if i in ids}
        outside = {
            i
            for row in rows.exclude(current_id__in=self.scope.commune_ids())
            for i in row
            if i in ids
        }
        return [r for r in refs if r.id in mapped and r.id not in outside]

    def commune_ids(self) -> QuerySet[Any, Any]:
        if self.teams is not None and not self.scope.everything:
            return AdminUnit.objects.none().values("id")
        return self.scope.commune_ids()


def successors_of(ref: UnitRef) -> QuerySet[UnitMapping]:
    """The mappings from a former unit (its communes, or itself) to current communes."""
    if ref.type == UnitType.FORMER_PROVINCE:
        return UnitMapping.objects.filter(Q(former__province_id=ref.id) | Q(former_id=ref.id))
    if ref.type == UnitType.FORMER_DISTRICT:
        return UnitMapping.objects.filter(Q(former__parent_id=ref.id) | Q(former_id=ref.id))
    return UnitMapping.objects.filter(former_id=ref.id)


def reach_of_user(user: Viewer) -> Reach:
    scope = scope_for(user)
    if not scope.everything and _is_team_leader(user):
        return Reach(
            scope=scope,
            teams=frozenset(
                Team.objects.filter(id__in=led_team_ids(user)).values_list("id", flat=True)
            ),
        )
    return Reach(scope=scope)


def reach_of_units(unit_ids: frozenset[int]) -> Reach:
    return Reach(scope=Scope(assigned=unit_ids))


# --- The tree, for drill-down and tables ------------------------------------------------------


def parent_chain(ref: UnitRef) -> list[UnitRef]:
    """The units above ``ref``, the top first (province → commune → hamlet for a team)."""
    chain: list[UnitRef] = []
    if ref.type == UnitType.TEAM:
        team = Team.objects.select_related("hamlet__commune", "commune__province").get(pk=ref.id)
        if team.hamlet is not None:
            chain.insert(0, ref_of_hamlet(team.hamlet))
        chain.insert(0, ref_of_unit(team.commune))
        if team.commune.province is not None:
            chain.insert(0, ref_of_unit(team.commune.province))
    elif ref.type == UnitType.HAMLET:
        hamlet = Hamlet.objects.select_related("commune__province").get(pk=ref.id)
        chain = [ref_of_unit(hamlet.commune)]
        if hamlet.commune.province is not None:
            chain.insert(0, ref_of_unit(hamlet.commune.province))
    elif ref.type != UnitType.PROVINCE and ref.type != UnitType.FORMER_PROVINCE:
        unit = AdminUnit.objects.select_related("parent__parent").get(pk=ref.id)
        parent = unit.parent
        while parent is not None:
            chain.insert(0, ref_of_unit(parent))
            parent = parent.parent
    return chain


def communes_of_province(province_id: int) -> QuerySet[AdminUnit]:
    return AdminUnit.objects.filter(
        hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, province_id=province_id
    ).order_by("name")


def former_districts_of_province(province_id: int) -> QuerySet[AdminUnit]:
    """Former districts whose communes went (wholly or partly) into this province."""
    formers = UnitMapping.objects.filter(current__province_id=province_id).values("former_id")
    return (
        AdminUnit.objects.filter(
            Q(hierarchy=Hierarchy.FORMER, level=Level.DISTRICT)
            & (Q(children__id__in=formers) | Q(id__in=formers))
        )
        .distinct()
        .order_by("province__code", "code")
    )


def former_communes_of(district_id: int) -> QuerySet[AdminUnit]:
    return AdminUnit.objects.filter(
        hierarchy=Hierarchy.FORMER, level=Level.COMMUNE, parent_id=district_id
    ).order_by("code")


def former_districts_of(province_id: int) -> QuerySet[AdminUnit]:
    return AdminUnit.objects.filter(
        hierarchy=Hierarchy.FORMER, level=Level.DISTRICT, parent_id=province_id
    ).order_by("code")


def hamlets_of_commune(commune_id: int) -> QuerySet[Hamlet]:
    return Hamlet.objects.filter(commune_id=commune_id).select_related("commune").order_by("name")


def teams_of_commune(commune_id: int) -> QuerySet[Team]:
    return Team.objects.filter(commune_id=commune_id).select_related("commune").order_by("name")


def teams_of_hamlet(hamlet_id: int) -> QuerySet[Team]:
    return Team.objects.filter(hamlet_id=hamlet_id).select_related("commune").order_by("name")


def former_units_within(province_id: int) -> dict[str, set[int]]:
    """Former communes, districts and provinces whose land went wholly into this province (so
    anyone who sees the province sees them), by unit type. Two queries."""
    touching = UnitMapping.objects.filter(current__province_id=province_id).values(
        "former__province_id"
    )
    rows = UnitMapping.objects.filter(former__province_id__in=touching).values_list(
        "former_id", "former__level", "former__parent_id", "former__province_id",
        "current__province_id",
    )  # fmt: skip
    inside: dict[int, bool] = {}
    level_of: dict[int, str] = {}

    def mark(unit_id: int | None, level: str, here: bool) -> None:
        if unit_id is None:
            return
        level_of[unit_id] = level
        inside[unit_id] = inside.get(unit_id, True) and here

    for former_id, level, parent_id, former_province_id, current_province in rows:
        here = current_province == province_id
        mark(former_id, level, here)
        if level == Level.COMMUNE:
            mark(parent_id, Level.DISTRICT, here)
        mark(former_province_id, Level.PROVINCE, here)
    out: dict[str, set[int]] = {t: set() for t in FORMER_TYPES}
    types: dict[str, str] = {
        Level.COMMUNE: UnitType.FORMER_COMMUNE,
        Level.DISTRICT: UnitType.FORMER_DISTRICT,
        Level.PROVINCE: UnitType.FORMER_PROVINCE,
    }
    for unit_id, ok in inside.items():
        if ok:
            out[types[level_of[unit_id]]].add(unit_id)
    return out
