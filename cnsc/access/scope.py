"""The one scoping mechanism: which current units a user may see.

A user sees the units they are assigned to and everything below them; a user with no
assignment sees nothing; a superuser sees everything. Every ``visible_to(user)`` in the project
starts here, so the admin, the views, the API and the bot answer the same question the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from cnsc.geo.models import AdminUnit, Hierarchy, Level


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    assigned: frozenset[int] = field(default_factory=frozenset)

    def unit_ids(self) -> frozenset[int]:
        return self.assigned

    def commune_ids(self) -> QuerySet[AdminUnit, Any]:
        """Current communes in scope, as a subquery (no list of ids is pulled into Python)."""
        communes = AdminUnit.objects.filter(hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE)
        if self.everything:
            return communes.values("id")
        return communes.filter(Q(id__in=self.assigned) | Q(province_id__in=self.assigned)).values(
            "id"
        )

    def province_ids(self) -> QuerySet[AdminUnit, Any]:
        provinces = AdminUnit.objects.filter(hierarchy=Hierarchy.CURRENT, level=Level.PROVINCE)
        if self.everything:
            return provinces.values("id")
        return provinces.filter(id__in=self.assigned).values("id")


NOTHING = Scope()
EVERYTHING = Scope(everything=True)


def scope_for(user: Any) -> Scope:
    """The user's scope, computed once per user object (so once per request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    cached = getattr(user, "_cnsc_scope", None)
    if cached is None:
        cached = Scope(assigned=frozenset(user.assignments.values_list("unit_id", flat=True)))
        user._cnsc_scope = cached
    return cached


def forget_scope(user: Any) -> None:
    """Call after changing a user's assignments within the same request."""
    if hasattr(user, "_cnsc_scope"):
        del user._cnsc_scope
