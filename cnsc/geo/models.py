"""Administrative units of Vietnam, before and after the reform of 1 July 2025, and hamlets.

Two hierarchies live side by side in one table:
- ``current``: province → commune (34 provinces, 3,321 communes, wards and special zones);
- ``former``: province → district → commune (63 provinces, ~700 districts, ~10,000 communes),
  valid until 30 June 2025.
``UnitMapping`` says which current commune(s) each former commune went into, so a figure can be
recomputed under today's wards or grouped the old way.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core.codes import random_code
from cnsc.core.text import nfc, search_key
from cnsc.core.types import Viewer

REFORM_DATE = dt.date(2025, 7, 1)
# A box around Vietnam's land and islands (Trường Sa reaches 117.8°E); points outside are refused.
MIN_LAT, MAX_LAT, MIN_LON, MAX_LON = 8.0, 23.5, 102.0, 118.0
LAST_FORMER_DAY = dt.date(2025, 6, 30)


class Hierarchy(models.TextChoices):
    CURRENT = "current", _("Two tiers (from 1 July 2025)")
    FORMER = "former", _("Three tiers (until 30 June 2025)")


class Level(models.TextChoices):
    PROVINCE = "province", _("Province")
    DISTRICT = "district", _("District")
    COMMUNE = "commune", _("Commune")


class UnitKind(models.TextChoices):
    PROVINCE = "tinh", _("Province (tỉnh)")
    CITY = "thanh_pho", _("City (thành phố)")
    URBAN_DISTRICT = "quan", _("Urban district (quận)")
    RURAL_DISTRICT = "huyen", _("Rural district (huyện)")
    TOWN = "thi_xa", _("Town (thị xã)")
    COMMUNE = "xa", _("Commune (xã)")
    WARD = "phuong", _("Ward (phường)")
    TOWNSHIP = "thi_tran", _("Township (thị trấn)")
    SPECIAL_ZONE = "dac_khu", _("Special zone (đặc khu)")


class AdminUnitQuerySet(models.QuerySet["AdminUnit"]):
    def current(self) -> AdminUnitQuerySet:
        return self.filter(hierarchy=Hierarchy.CURRENT)

    def former(self) -> AdminUnitQuerySet:
        return self.filter(hierarchy=Hierarchy.FORMER)

    def provinces(self) -> AdminUnitQuerySet:
        return self.filter(level=Level.PROVINCE)

    def communes(self) -> AdminUnitQuerySet:
        return self.filter(level=Level.COMMUNE)

    def search(self, text: str) -> AdminUnitQuerySet:
        return self.filter(search_name__contains=search_key(text))

    def visible_to(self, user: Viewer) -> AdminUnitQuerySet:
        """Units the user may see: their assigned (current) units and all below them, plus the
        former units that went into those (so figures can be grouped the old way)."""
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        communes = scope.commune_ids()
        former_communes = UnitMapping.objects.filter(current_id__in=communes).values("former_id")
        former_with_parents = AdminUnit.objects.filter(id__in=former_communes)
        return self.filter(
            Q(id__in=scope.unit_ids())
            | Q(id__in=communes)
            | Q(id__in=former_communes)
            | Q(id__in=former_with_parents.values("parent_id"))
            | Q(id__in=former_with_parents.values("province_id"))
        )


class AdminUnit(models.Model):
    hierarchy = models.CharField(_("hierarchy"), max_length=8, choices=Hierarchy.choices)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices)
    code = models.CharField(
        _("official code"),
        max_length=5,
        help_text=_("2 digits for a province, 3 for a district, 5 for a commune."),
    )
    name = models.CharField(_("name"), max_length=120)
    short_name = models.CharField(_("short name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    # Denormalised for one-step scoping: every unit knows its province (None for provinces).
    province = models.ForeignKey(
        "self",
        verbose_name=_("province"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid until"), null=True, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    search_name = models.CharField(max_length=240, editable=False, db_index=True)

    history = HistoricalRecords()
    objects = AdminUnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("administrative unit")
        verbose_name_plural = _("administrative units")
        ordering = ["hierarchy", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["hierarchy", "level", "code"], name="geo_unit_unique_code"
            ),
            models.CheckConstraint(
                condition=Q(level=Level.PROVINCE, parent__isnull=True)
                | (~Q(level=Level.PROVINCE) & Q(parent__isnull=False)),
                name="geo_unit_parent_by_level",
            ),
            models.CheckConstraint(
                condition=~Q(hierarchy=Hierarchy.CURRENT, level=Level.DISTRICT),
                name="geo_unit_no_current_district",
            ),
        ]
        indexes = [models.Index(fields=["hierarchy", "level", "province"])]

    def __str__(self) -> str:
        if self.hierarchy == Hierarchy.FORMER:
            return _("%(name)s (former)") % {"name": self.name}
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.name = nfc(self.name)
        self.short_name = nfc(self.short_name)
        self.search_name = search_key(f"{self.name} {self.code}")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def is_valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class UnitMapping(models.Model):
    """A former commune (or a district without communes, such as an island district) and a
    current commune it went into. One former commune split among several current ones has one row
    each; ``is_main`` marks the current commune that took most of it, where the data says so."""

    former = models.ForeignKey(
        AdminUnit,
        verbose_name=_("former unit"),
        on_delete=models.CASCADE,
        related_name="mapped_to",
        limit_choices_to={"hierarchy": Hierarchy.FORMER},
    )
    current = models.ForeignKey(
        AdminUnit,
        verbose_name=_("current commune"),
        on_delete=models.CASCADE,
        related_name="mapped_from",
        limit_choices_to={"hierarchy": Hierarchy.CURRENT, "level": Level.COMMUNE},
    )
    is_main = models.BooleanField(_("main successor"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("unit mapping")
        verbose_name_plural = _("unit mappings")
        constraints = [
            models.UniqueConstraint(fields=["former", "current"], name="geo_mapping_unique"),
            models.UniqueConstraint(
                fields=["former"], condition=Q(is_main=True), name="geo_mapping_one_main"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.former} → {self.current}"


class HamletKind(models.TextChoices):
    VILLAGE = "thon", _("Village (thôn)")
    HAMLET = "ap", _("Hamlet (ấp)")
    MOUNTAIN_VILLAGE = "ban", _("Mountain village (bản)")
    QUARTER = "khu_pho", _("Quarter (khu phố)")
    RESIDENTIAL_GROUP = "to_dan_pho", _("Residential group (tổ dân phố)")
    OTHER = "khac", _("Other")


class HamletQuerySet(models.QuerySet["Hamlet"]):
    def visible_to(self, user: Viewer) -> HamletQuerySet:
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(commune_id__in=scope.commune_ids())

    def active(self) -> HamletQuerySet:
        return self.filter(retired_on__isnull=True)


class Hamlet(models.Model):
    """A hamlet or urban quarter: not in the official code lists, kept by commune officials."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="hamlets",
        limit_choices_to={"hierarchy": Hierarchy.CURRENT, "level": Level.COMMUNE},
    )
    former_commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("former commune (before 1 July 2025)"),
        on_delete=models.PROTECT,
        related_name="former_hamlets",
        null=True,
        blank=True,
        limit_choices_to={"hierarchy": Hierarchy.FORMER, "level": Level.COMMUNE},
    )
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=12, choices=HamletKind.choices)
    latitude = models.FloatField(_("centre latitude"), null=True, blank=True)
    longitude = models.FloatField(_("centre longitude"), null=True, blank=True)
    created_on = models.DateField(_("created on"), default=timezone.localdate)
    retired_on = models.DateField(_("retired on"), null=True, blank=True)
    search_name = models.CharField(max_length=240, editable=False, db_index=True)

    history = HistoricalRecords()
    objects = HamletQuerySet.as_manager()

    class Meta:
        verbose_name = _("hamlet or quarter")
        verbose_name_plural = _("hamlets and quarters")
        ordering = ["commune__code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["commune", "name"],
                condition=Q(retired_on__isnull=True),
                name="geo_hamlet_unique_active_name",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(
                    latitude__gte=MIN_LAT,
                    latitude__lte=MAX_LAT,
                    longitude__gte=MIN_LON,
                    longitude__lte=MAX_LON,
                ),
                name="geo_hamlet_point_in_vietnam",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} — {self.commune.name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.name = nfc(self.name)
        self.search_name = search_key(self.name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.former_commune_id and self.commune_id:
            mapped = UnitMapping.objects.filter(
                former_id=self.former_commune_id, current_id=self.commune_id
            ).exists()
            if not mapped:
                errors["former_commune"] = str(
                    _("This former commune did not go into the chosen commune.")
                )
        if (self.latitude is None) != (self.longitude is None):
            errors["latitude"] = str(_("Give both latitude and longitude, or neither."))
        if self.retired_on and self.retired_on < self.created_on:
            errors["retired_on"] = str(_("A hamlet cannot be retired before it was created."))
        if errors:
            raise ValidationError(errors)
