"""The indicator catalogue: what each figure counts, in which unit, and which way is good.

Defined in code, not in the database: each indicator is a query in ``cnsc.dashboard.compute``,
so adding one is a code change either way. Targets per unit and year are data
(``IndicatorTarget``); the member and team targets of the roster (``team.Target``) are the
denominators of the two "against target" indicators.

A *stock* indicator is counted as at the last day of the period (today while the period runs);
a *flow* indicator counts what happened during the period.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Measure(models.TextChoices):
    PERCENT = "percent", _("Percentage")
    COUNT = "count", _("Count")


class Direction(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class Kind(models.TextChoices):
    STOCK = "stock", _("As at the end of the period")
    FLOW = "flow", _("During the period")


class UnitType(models.TextChoices):
    """What a figure is about: a current unit, a team, or a unit from before 1 July 2025."""

    PROVINCE = "province", _("Province")
    COMMUNE = "commune", _("Commune")
    HAMLET = "hamlet", _("Hamlet or quarter")
    TEAM = "team", _("Team")
    FORMER_PROVINCE = "former_province", _("Former province")
    FORMER_DISTRICT = "former_district", _("Former district")
    FORMER_COMMUNE = "former_commune", _("Former commune")


ALL_UNIT_TYPES = frozenset(UnitType.values)
NOT_TEAMS = ALL_UNIT_TYPES - {UnitType.TEAM}


@dataclass(frozen=True)
class Indicator:
    code: str
    name: Promise
    short: Promise
    numerator: Promise
    denominator: Promise | None
    measure: str
    kind: str
    direction: str = Direction.UP
    unit_types: frozenset[str] = ALL_UNIT_TYPES
    # The target when a unit has none of its own: one team per hamlet, every planned member.
    default_target: float | None = None
    # The roster target (team.Target field) that is this indicator's denominator.
    roster_target: str | None = None

    def __str__(self) -> str:
        return self.label()

    def label(self) -> str:
        """The name in the current language."""
        return str(self.name)

    def short_label(self) -> str:
        """The name as a table column's heading, in the current language."""
        return str(self.short)

    @property
    def name_vi(self) -> str:
        """The Vietnamese name whatever the current language (the API serves both)."""
        with translation.override("vi"):
            return str(self.name)

    @property
    def is_percent(self) -> bool:
        return self.measure == Measure.PERCENT


HAMLETS_WITH_TEAM = "hamlets_with_team"
TEAMS = "teams"
MEMBERS = "members"
HOUSEHOLDS_VISITED = "households_visited"
VNEID_LEVEL2 = "vneid_level2"
PAYMENT_ACCOUNT = "payment_account"
WELFARE_ACCOUNT = "welfare_account"
SIGNATURES_ISSUED = "signatures_issued"
RESIDENTS_TRAINED = "residents_trained"
VISITS = "visits"
ACTIVE_MEMBERS = "active_members"

# Ages from which residents count, as the province's indicators count them.
VNEID_MIN_AGE = 14
PAYMENT_MIN_AGE = 15

CATALOGUE: tuple[Indicator, ...] = (
    Indicator(
        code=HAMLETS_WITH_TEAM,
        name=pgettext_lazy("indicator", "Hamlets with an active team"),
        short=pgettext_lazy("indicator column", "Hamlets with a team"),
        numerator=_("Hamlets and quarters with at least one active team"),
        denominator=_("Hamlets and quarters"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
        unit_types=NOT_TEAMS,
        default_target=100.0,
    ),
    Indicator(
        code=TEAMS,
        name=pgettext_lazy("indicator", "Teams against the target"),
        short=pgettext_lazy("indicator column", "Teams"),
        numerator=_("Active teams"),
        denominator=_("Teams planned for the year"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
        unit_types=NOT_TEAMS,
        default_target=100.0,
        roster_target="teams",
    ),
    Indicator(
        code=MEMBERS,
        name=pgettext_lazy("indicator", "Members against the target"),
        short=pgettext_lazy("indicator column", "Members"),
        numerator=_("Members in a team"),
        denominator=_("Members planned for the year"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
        default_target=100.0,
        roster_target="members",
    ),
    Indicator(
        code=HOUSEHOLDS_VISITED,
        name=pgettext_lazy("indicator", "Households visited at least once"),
        short=pgettext_lazy("indicator column", "Households visited"),
        numerator=_("Households on the list visited at least once"),
        denominator=_("Households on the list"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=VNEID_LEVEL2,
        name=pgettext_lazy("indicator", "Residents aged 14 and over with a level-2 VNeID account"),
        short=pgettext_lazy("indicator column", "VNeID level 2"),
        numerator=_("Residents aged 14 and over with level-2 VNeID"),
        denominator=_("Residents aged 14 and over"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=PAYMENT_ACCOUNT,
        name=pgettext_lazy("indicator", "Residents aged 15 and over with a payment account"),
        short=pgettext_lazy("indicator column", "Payment account"),
        numerator=_("Residents aged 15 and over with a payment account or e-wallet"),
        denominator=_("Residents aged 15 and over"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=WELFARE_ACCOUNT,
        name=pgettext_lazy("indicator", "Welfare beneficiaries paid through an account"),
        short=pgettext_lazy("indicator column", "Welfare via account"),
        numerator=_("Social-welfare beneficiaries paid through an account"),
        denominator=_("Social-welfare beneficiaries"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=SIGNATURES_ISSUED,
        name=pgettext_lazy("indicator", "Digital signatures issued to residents"),
        short=pgettext_lazy("indicator column", "Signatures issued"),
        numerator=_("Digital signatures issued in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=RESIDENTS_TRAINED,
        name=pgettext_lazy("indicator", "Residents trained"),
        short=pgettext_lazy("indicator column", "Residents trained"),
        numerator=_("Residents who passed a training session held in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=VISITS,
        name=pgettext_lazy("indicator", "Household visits"),
        short=pgettext_lazy("indicator column", "Visits"),
        numerator=_("Visits recorded as made in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=ACTIVE_MEMBERS,
        name=pgettext_lazy("indicator", "Members active in the period"),
        short=pgettext_lazy("indicator column", "Active members"),
        numerator=_("Members with at least one visit in the period"),
        denominator=_("Members in a team at the end of the period"),
        measure=Measure.PERCENT,
        kind=Kind.FLOW,
    ),
)

INDICATORS: dict[str, Indicator] = {i.code: i for i in CATALOGUE}
INDICATOR_CHOICES = [(i.code, i.name) for i in CATALOGUE]


def indicators_for(unit_type: str) -> list[Indicator]:
    return [i for i in CATALOGUE if unit_type in i.unit_types]
