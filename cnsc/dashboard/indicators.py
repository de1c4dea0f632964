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
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


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
    name_vi: str
    short: Promise
    short_vi: str
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
        """The name in the current language. The Vietnamese names are part of the catalogue
        (the API serves both), so they do not wait for the translation file."""
        return self.name_vi if _vietnamese() else str(self.name)

    def short_label(self) -> str:
        return self.short_vi if _vietnamese() else str(self.short)

    @property
    def is_percent(self) -> bool:
        return self.measure == Measure.PERCENT


def _vietnamese() -> bool:
    return (get_language() or "vi").startswith("vi")


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
        name=_("Hamlets with an active team"),
        name_vi="Thôn, khu phố có Tổ CNSC hoạt động",
        short=_("Hamlets with a team"),
        short_vi="Thôn có tổ",
        numerator=_("Hamlets and quarters with at least one active team"),
        denominator=_("Hamlets and quarters"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
        unit_types=NOT_TEAMS,
        default_target=100.0,
    ),
    Indicator(
        code=TEAMS,
        name=_("Teams against the target"),
        name_vi="Số Tổ CNSC so với kế hoạch",
        short=_("Teams"),
        short_vi="Số tổ",
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
        name=_("Members against the target"),
        name_vi="Số thành viên so với kế hoạch",
        short=_("Members"),
        short_vi="Thành viên",
        numerator=_("Members in a team"),
        denominator=_("Members planned for the year"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
        default_target=100.0,
        roster_target="members",
    ),
    Indicator(
        code=HOUSEHOLDS_VISITED,
        name=_("Households visited at least once"),
        name_vi="Hộ gia đình đã được đến ít nhất một lần",
        short=_("Households visited"),
        short_vi="Hộ đã đến",
        numerator=_("Households on the list visited at least once"),
        denominator=_("Households on the list"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=VNEID_LEVEL2,
        name=_("Residents aged 14 and over with a level-2 VNeID account"),
        name_vi="Người từ 14 tuổi có tài khoản định danh điện tử mức 2",
        short=_("VNeID level 2"),
        short_vi="VNeID mức 2",
        numerator=_("Residents aged 14 and over with level-2 VNeID"),
        denominator=_("Residents aged 14 and over"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=PAYMENT_ACCOUNT,
        name=_("Residents aged 15 and over with a payment account"),
        name_vi="Người từ 15 tuổi có tài khoản thanh toán",
        short=_("Payment account"),
        short_vi="TK thanh toán",
        numerator=_("Residents aged 15 and over with a payment account or e-wallet"),
        denominator=_("Residents aged 15 and over"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=WELFARE_ACCOUNT,
        name=_("Welfare beneficiaries paid through an account"),
        name_vi="Đối tượng an sinh xã hội nhận chi trả qua tài khoản",
        short=_("Welfare via account"),
        short_vi="ASXH qua TK",
        numerator=_("Social-welfare beneficiaries paid through an account"),
        denominator=_("Social-welfare beneficiaries"),
        measure=Measure.PERCENT,
        kind=Kind.STOCK,
    ),
    Indicator(
        code=SIGNATURES_ISSUED,
        name=_("Digital signatures issued to residents"),
        name_vi="Chữ ký số cấp cho người dân trong kỳ",
        short=_("Signatures issued"),
        short_vi="Chữ ký số",
        numerator=_("Digital signatures issued in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=RESIDENTS_TRAINED,
        name=_("Residents trained"),
        name_vi="Người dân được tập huấn trong kỳ",
        short=_("Residents trained"),
        short_vi="Người dân tập huấn",
        numerator=_("Residents who passed a training session held in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=VISITS,
        name=_("Household visits"),
        name_vi="Lượt đến hộ gia đình trong kỳ",
        short=_("Visits"),
        short_vi="Lượt đến hộ",
        numerator=_("Visits recorded as made in the period"),
        denominator=None,
        measure=Measure.COUNT,
        kind=Kind.FLOW,
    ),
    Indicator(
        code=ACTIVE_MEMBERS,
        name=_("Members active in the period"),
        name_vi="Thành viên hoạt động trong kỳ",
        short=_("Active members"),
        short_vi="TV hoạt động",
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
