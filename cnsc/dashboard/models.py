"""Targets per indicator, precomputed figures, the refresh watermark, and API clients.

``IndicatorValue`` rows are derived data: written only by ``cnsc.dashboard.compute`` (the
``refresh_indicators`` and ``recompute_indicators`` commands), never edited, so they keep no
change history. A unit is named by its type and primary key inside the database; outside it
(URLs, API, exports) always by its public code (``cnsc.dashboard.units``).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hierarchy, Level
from cnsc.team.models import _is_team_leader

from .indicators import INDICATOR_CHOICES, INDICATORS, Measure, UnitType
from .periods import PeriodType


class IndicatorTargetQuerySet(models.QuerySet["IndicatorTarget"]):
    def visible_to(self, user: Viewer) -> IndicatorTargetQuerySet:
        from cnsc.access.scope import scope_for

        if scope_for(user).everything:
            return self.all()
        if _is_team_leader(user):
            return self.none()
        return self.filter(unit_id__in=AdminUnit.objects.visible_to(user).values("id"))


class IndicatorTarget(models.Model):
    """What a unit aims for on one indicator in one year, in the indicator's own measure (80 for
    80%). Communes, hamlets and teams without a target of their own are held to their
    province's. The unit may be a former one, so an old plan can be compared with what was
    reached."""

    indicator = models.CharField(_("indicator"), max_length=40, choices=INDICATOR_CHOICES)
    unit = models.ForeignKey(
        AdminUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="indicator_targets",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    value = models.DecimalField(_("target"), max_digits=12, decimal_places=2)

    history = HistoricalRecords()
    objects = IndicatorTargetQuerySet.as_manager()

    class Meta:
        verbose_name = _("indicator target")
        verbose_name_plural = _("indicator targets")
        ordering = ["-year", "unit__code", "indicator"]
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "unit", "year"],
                name="dashboard_target_unique",
                violation_error_message=_(
                    "This unit already has a target for this indicator and year."
                ),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2020, year__lte=2100), name="dashboard_target_year_range"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="dashboard_target_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} {self.year}: {self.indicator} {self.value}"

    def clean(self) -> None:
        indicator = INDICATORS.get(self.indicator)
        if (
            indicator
            and indicator.measure == Measure.PERCENT
            and self.value is not None
            and self.value > 100
        ):
            raise ValidationError({"value": _("A percentage target is at most 100.")})


class IndicatorValue(models.Model):
    """One figure: an indicator for one unit and one period, with the numbers it is made of and
    when it was computed. Figures that are zero over nothing (no visits, no households) are not
    stored: a missing count reads as zero."""

    indicator = models.CharField(_("indicator"), max_length=40, choices=INDICATOR_CHOICES)
    unit_type = models.CharField(_("unit type"), max_length=16, choices=UnitType.choices)
    # The AdminUnit, Hamlet or Team primary key, by unit_type.
    unit_id = models.BigIntegerField(_("unit"))
    period_type = models.CharField(_("period type"), max_length=8, choices=PeriodType.choices)
    period = models.CharField(_("period"), max_length=8, help_text=_("DHIS2 notation"))
    period_start = models.DateField(_("period start"))
    numerator = models.BigIntegerField(_("numerator"))
    denominator = models.BigIntegerField(_("denominator"), null=True, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        constraints = [
            # Period before indicator: a refresh replaces a unit's few periods, a trend reads a
            # unit's periods; both walk one unit's range in period order.
            models.UniqueConstraint(
                fields=["unit_type", "unit_id", "period", "indicator"],
                name="dashboard_value_unique",
            )
        ]
        indexes = [
            # Ranked tables: every commune (or hamlet, team) of a page in one period.
            models.Index(
                fields=["unit_type", "period", "indicator"], name="dashboard_value_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.unit_type}:{self.unit_id} {self.period} = {self.value}"


class RefreshState(models.Model):
    """Where the incremental refresh stands: changes recorded after ``watermark`` are still to be
    counted. One row."""

    name = models.CharField(max_length=40, unique=True)
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_seconds = models.FloatField(null=True, blank=True)
    last_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("refresh state")
        verbose_name_plural = _("refresh states")

    def __str__(self) -> str:
        return f"{self.name} @ {self.watermark}"


# --- API clients ----------------------------------------------------------------------------

TOKEN_PREFIX = "cnsc_"  # noqa: S105 (a prefix, not a secret)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough to keep them unusable if the table
    leaks (there is nothing to brute-force), and lets a request find its client by index."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiClientQuerySet(models.QuerySet["ApiClient"]):
    def visible_to(self, user: Viewer) -> ApiClientQuerySet:
        """API clients reach across communes: only superusers manage them."""
        from cnsc.access.scope import scope_for

        return self.all() if scope_for(user).everything else self.none()

    def active(self) -> ApiClientQuerySet:
        return self.filter(is_active=True)


class ApiClient(models.Model):
    """A machine that reads the API (the IOC, an open-data portal), with the units it may read:
    those units and everything below them, as a user assigned to them would."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, to tell tokens apart in the back office and logs.
    token_hint = models.CharField(_("token starts with"), max_length=12, editable=False)
    units = models.ManyToManyField(
        AdminUnit,
        verbose_name=_("units"),
        related_name="api_clients",
        limit_choices_to={
            "hierarchy": Hierarchy.CURRENT,
            "level__in": [Level.PROVINCE, Level.COMMUNE],
        },
        help_text=_("Current provinces or communes; the client reads them and all below."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["token_hash", "last_used_at"])
    objects = ApiClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.token_hash:
            raise ValueError("call set_token() before saving a new API client")
        super().save(*args, **kwargs)

    def set_token(self) -> str:
        """Give the client a new token and return it: the only time it can be read."""
        token = new_token()
        self.token_hash = hash_token(token)
        self.token_hint = token[: len(TOKEN_PREFIX) + 4]
        return token
