"""Households, the residents living in them, the digital services each resident has, and the
visits, check-ins and field reports that are the teams' work.

A resident's services: ``ServiceState`` is the current state (one row per resident and service,
no row meaning "none"), ``ServiceEvent`` every change with its evidence. The states and their
order live in ``cnsc.outreach.catalogue``; writes go through ``cnsc.outreach.services``.

Scoping: commune officials and province staff see the rows of their communes; a team leader sees
the rows of the team they lead; anyone else sees nothing.

Sizes: a province has about 900,000 households, 2.7 million residents and millions of visits. A
foreign key that leads a composite index has ``db_index=False``: the composite serves it, and
every index is paid for on each insert.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core.codes import random_code
from cnsc.core.identity import Sex
from cnsc.core.text import nfc, search_key
from cnsc.core.types import Viewer
from cnsc.geo.models import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON, AdminUnit, Hamlet
from cnsc.team.models import CURRENT_COMMUNE, Member, Team, _is_team_leader, led_team_ids

from .catalogue import Result, Service, State


def household_code() -> str:
    return random_code(8)


def point_in_vietnam(prefix: str = "") -> Q:
    """Both coordinates missing, or both inside the box around Vietnam (cnsc.geo.models)."""
    lat, lon = f"{prefix}latitude", f"{prefix}longitude"
    return Q(**{f"{lat}__isnull": True, f"{lon}__isnull": True}) | Q(
        **{
            f"{lat}__gte": MIN_LAT,
            f"{lat}__lte": MAX_LAT,
            f"{lon}__gte": MIN_LON,
            f"{lon}__lte": MAX_LON,
        }
    )


_QS = TypeVar("_QS", bound=models.QuerySet[Any, Any])


def _scoped(qs: _QS, user: Viewer, *, commune: str, team: str) -> _QS:
    """The one scoping rule of this app, given the paths from a row to its commune and team."""
    from cnsc.access.scope import scope_for

    scope = scope_for(user)
    if scope.everything:
        return qs.all()
    if _is_team_leader(user):
        return qs.filter(**{f"{team}__in": led_team_ids(user)})
    return qs.filter(**{f"{commune}__in": scope.commune_ids()})


# --- Households and residents ---------------------------------------------------------------


class HouseholdQuerySet(models.QuerySet["Household"]):
    def visible_to(self, user: Viewer) -> HouseholdQuerySet:
        return _scoped(self, user, commune="commune_id", team="team_id")


class Household(models.Model):
    """A household (hộ gia đình) in a hamlet, covered by one team, maybe assigned to one member."""

    code = models.CharField(
        _("household code"),
        max_length=20,
        default=household_code,
        help_text=_(
            "The commune's own household number where there is one; unique in the commune."
        ),
    )
    # The hamlet's commune, kept here so scoping and per-commune lists need no join.
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="households",
        limit_choices_to=CURRENT_COMMUNE,
        db_index=False,
    )
    hamlet = models.ForeignKey(
        Hamlet,
        verbose_name=_("hamlet or quarter"),
        on_delete=models.PROTECT,
        related_name="households",
        db_index=False,
    )
    house_number = models.CharField(_("house number"), max_length=40, blank=True)
    street = models.CharField(_("street or alley"), max_length=200, blank=True)
    # House number and street without diacritics or spacing differences: a re-import of the
    # commune's list finds the household by (hamlet, address_key). The hamlet is a column of its
    # own rather than part of the key, so renaming a hamlet does not break the match.
    address_key = models.CharField(max_length=250, editable=False)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=16, blank=True, help_text=_("Stored as +84…"))
    head = models.ForeignKey(
        "Resident",
        verbose_name=_("head of household"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="households",
        help_text=_("The team that covers the household."),
        db_index=False,
    )
    assigned_member = models.ForeignKey(
        Member,
        verbose_name=_("assigned member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_households",
        db_index=False,
    )
    # Head's name and the address, diacritic-free: what a member types into the bot.
    search_name = models.CharField(max_length=400, editable=False)
    # Kept by the visit service (the latest visit's time) so worklists need not scan visits.
    last_visited_at = models.DateTimeField(_("last visited"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Past versions are read by household (``id``) and by date; simple-history would also index
    # every copied foreign key, which only slows the import's writes.
    history = HistoricalRecords(
        no_db_index=["commune", "hamlet", "head", "team", "assigned_member"]
    )
    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        constraints = [
            models.UniqueConstraint(
                fields=["commune", "code"],
                name="outreach_household_unique_code",
                violation_error_message=_("Another household of this commune has this code."),
            ),
            models.CheckConstraint(
                condition=point_in_vietnam(), name="outreach_household_point_in_vietnam"
            ),
        ]
        indexes = [
            # Worklists and "not visited for N days", per team and per member.
            models.Index(fields=["team", "last_visited_at"], name="outreach_hh_team_visited"),
            models.Index(
                fields=["assigned_member", "last_visited_at"], name="outreach_hh_member_visited"
            ),
            models.Index(fields=["hamlet", "address_key"], name="outreach_hh_address"),
        ]

    def __str__(self) -> str:
        address = " ".join(p for p in (self.house_number, self.street) if p)
        return f"{self.code} — {address}" if address else self.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.code = self.code.strip()
        self.house_number = nfc(self.house_number)
        self.street = nfc(self.street)
        self.address_key = address_key(self.house_number, self.street)
        head_name = self.head.full_name if self.head_id and self.head else ""
        self.search_name = search_key(f"{head_name} {self.house_number} {self.street}")
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "address_key", "search_name"}
        super().save(*args, **kwargs)


def address_key(house_number: str, street: str) -> str:
    """ "12/3A", "Hẻm 5  Đường Yersin" -> "12/3a hem 5 duong yersin"."""
    return search_key(f"{house_number} {street}")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    CHILD_IN_LAW = "child_in_law", _("Son- or daughter-in-law")
    OTHER_RELATIVE = "relative", _("Other relative")
    OTHER = "other", _("Not related")


class ResidentQuerySet(models.QuerySet["Resident"]):
    def visible_to(self, user: Viewer) -> ResidentQuerySet:
        return _scoped(self, user, commune="household__commune_id", team="household__team_id")

    def present(self) -> ResidentQuerySet:
        """Residents not erased: the ones a member can still help."""
        return self.filter(erased_at__isnull=True)


class Resident(models.Model):
    """A person living in a household (nhân khẩu). Personal data: phone in E.164, CCCD only as a
    keyed hash and its last four digits, exactly as team.Member keeps it (cnsc.core.identity)."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="residents"
    )
    full_name = models.CharField(_("full name"), max_length=150)
    search_name = models.CharField(max_length=150, editable=False)
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    relation_to_head = models.CharField(
        _("relation to the head"), max_length=12, choices=Relation.choices, default=Relation.OTHER
    )
    phone = models.CharField(_("phone"), max_length=16, blank=True, help_text=_("Stored as +84…"))
    cccd_hash = models.CharField(max_length=64, blank=True, editable=False)
    cccd_last4 = models.CharField(_("CCCD (last four digits)"), max_length=4, blank=True)
    cccd_key_id = models.CharField(max_length=8, blank=True, editable=False)
    owns_smartphone = models.BooleanField(
        _("owns a smartphone"), null=True, blank=True, help_text=_("Empty: not asked yet.")
    )
    welfare_beneficiary = models.BooleanField(_("social-welfare beneficiary"), default=False)
    # Set when the resident's personal data was erased on request; the row stays (without the
    # person) so counts already reported do not change.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Past versions are read by resident (``id``) and by date, never by code or household: no
    # index for those (simple-history would add three, ``code`` twice with its LIKE twin).
    history = HistoricalRecords(
        excluded_fields=["cccd_hash", "cccd_key_id"], no_db_index=["code", "household"]
    )
    objects = ResidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        permissions = [("view_personal_data", _("May export unmasked personal data of residents"))]
        constraints = [
            models.UniqueConstraint(
                fields=["cccd_hash"],
                condition=~Q(cccd_hash=""),
                name="outreach_resident_unique_cccd",
                violation_error_message=_("A resident with this CCCD is already registered."),
            ),
            models.CheckConstraint(
                condition=Q(cccd_hash="", cccd_last4="", cccd_key_id="")
                | (~Q(cccd_hash="") & ~Q(cccd_last4="") & ~Q(cccd_key_id="")),
                name="outreach_resident_cccd_complete",
            ),
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True)
                | Q(birth_year__gte=1900, birth_year__lte=2100),
                name="outreach_resident_birth_year_range",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.full_name = nfc(self.full_name)
        self.search_name = search_key(self.full_name)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_name"}
        super().save(*args, **kwargs)


class ResidentMoveQuerySet(models.QuerySet["ResidentMove"]):
    def visible_to(self, user: Viewer) -> ResidentMoveQuerySet:
        return _scoped(
            self,
            user,
            commune="resident__household__commune_id",
            team="resident__household__team_id",
        )


class ResidentMove(models.Model):
    """A resident left one household for another. Append-only and never edited, so it has no
    change history of its own: each row already is one."""

    resident = models.ForeignKey(
        Resident, verbose_name=_("resident"), on_delete=models.PROTECT, related_name="moves"
    )
    from_household = models.ForeignKey(
        Household, verbose_name=_("from household"), on_delete=models.PROTECT, related_name="+"
    )
    to_household = models.ForeignKey(
        Household, verbose_name=_("to household"), on_delete=models.PROTECT, related_name="+"
    )
    moved_at = models.DateTimeField(_("moved at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ResidentMoveQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident move")
        verbose_name_plural = _("resident moves")
        ordering = ["-moved_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_household=models.F("to_household")),
                name="outreach_move_between_two_households",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} {self.from_household} → {self.to_household}"


# --- Services -------------------------------------------------------------------------------


class Source(models.TextChoices):
    VISIT = "visit", _("Visit")
    IMPORT = "import", _("Import")
    OFFICIAL = "official", _("Official")


class ServiceStateQuerySet(models.QuerySet["ServiceState"]):
    def visible_to(self, user: Viewer) -> ServiceStateQuerySet:
        return _scoped(
            self,
            user,
            commune="resident__household__commune_id",
            team="resident__household__team_id",
        )


class ServiceState(models.Model):
    """Where one resident stands with one service now. No row means "none". Changed only
    together with a ServiceEvent (cnsc.outreach.services): the events are its history, so it has
    no change history of its own (which bulk updates would bypass anyway)."""

    resident = models.ForeignKey(
        Resident,
        verbose_name=_("resident"),
        on_delete=models.CASCADE,
        related_name="service_states",
        db_index=False,
    )
    service = models.CharField(_("service"), max_length=16, choices=Service.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.NONE)
    details = models.JSONField(_("details"), default=dict, blank=True)
    changed_at = models.DateTimeField(_("changed at"))
    # The latest visit result for this service, so a worklist can leave out a resident found not
    # eligible without reading every visit.
    last_result = models.CharField(
        _("last visit result"), max_length=12, choices=Result.choices, blank=True
    )

    objects = ServiceStateQuerySet.as_manager()

    class Meta:
        verbose_name = _("service state")
        verbose_name_plural = _("service states")
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "service"], name="outreach_servicestate_unique"
            )
        ]
        indexes = [
            # Indicators: how many residents are at a state of a service.
            models.Index(fields=["service", "state"], name="outreach_state_service_state")
        ]

    def __str__(self) -> str:
        return f"{self.resident} {self.get_service_display()}: {self.get_state_display()}"


class ServiceEventQuerySet(models.QuerySet["ServiceEvent"]):
    def visible_to(self, user: Viewer) -> ServiceEventQuerySet:
        return _scoped(
            self,
            user,
            commune="resident__household__commune_id",
            team="resident__household__team_id",
        )


class ServiceEvent(models.Model):
    """One change of one resident's service state, with its evidence. Append-only and written in
    bulk by the visit service; a change history of rows that never change would only double the
    writes, so there is none."""

    resident = models.ForeignKey(
        Resident,
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="service_events",
        db_index=False,
    )
    service = models.CharField(_("service"), max_length=16, choices=Service.choices)
    from_state = models.CharField(_("from"), max_length=16, choices=State.choices)
    to_state = models.CharField(_("to"), max_length=16, choices=State.choices)
    backward = models.BooleanField(_("went back"), default=False)
    happened_at = models.DateTimeField(_("happened at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    visit = models.ForeignKey(
        "Visit",
        verbose_name=_("visit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_events",
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = ServiceEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("service event")
        verbose_name_plural = _("service events")
        ordering = ["-happened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source="visit", visit__isnull=False)
                | (~Q(source="visit") & Q(visit__isnull=True)),
                name="outreach_event_visit_matches_source",
            )
        ]
        indexes = [
            models.Index(
                fields=["resident", "service", "happened_at"], name="outreach_event_resident"
            ),
            # "Signatures issued this month" and other counts of changes in a period.
            models.Index(
                fields=["service", "to_state", "happened_at"], name="outreach_event_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resident} {self.service}: {self.from_state} → {self.to_state}"


# --- Visits ---------------------------------------------------------------------------------


class VisitSource(models.TextChoices):
    BOT = "bot", _("Telegram bot")
    WEB = "web", _("Web form")
    IMPORT = "import", _("Import")


class VisitQuerySet(models.QuerySet["Visit"]):
    def visible_to(self, user: Viewer) -> VisitQuerySet:
        return _scoped(self, user, commune="commune_id", team="team_id")


class Visit(models.Model):
    """One member at one household at one time. ``happened_at`` is when the member was there;
    ``recorded_at`` when it reached us (a message written offline arrives later)."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=100,
        unique=True,
        editable=False,
        help_text=_(
            "Given by the source (bot update, web form) so a visit sent twice is stored once."
        ),
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="visits",
        db_index=False,
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        related_name="visits",
        db_index=False,
    )
    # The team and commune at the time of the visit, for scoping and for figures that must not
    # change when a household later passes to another team.
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        related_name="visits",
        db_index=False,
    )
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    happened_at = models.DateTimeField(_("happened at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True, editable=False)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    accuracy_m = models.PositiveIntegerField(_("accuracy (m)"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    source = models.CharField(_("source"), max_length=8, choices=VisitSource.choices)

    history = HistoricalRecords()
    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.CheckConstraint(
                condition=point_in_vietnam(), name="outreach_visit_point_in_vietnam"
            )
        ]
        indexes = [
            # The newest visits across many communes (a province's list) walk this one.
            models.Index(fields=["-happened_at"], name="outreach_visit_recent"),
            models.Index(fields=["commune", "-happened_at"], name="outreach_visit_commune"),
            models.Index(fields=["team", "-happened_at"], name="outreach_visit_team"),
            models.Index(fields=["member", "-happened_at"], name="outreach_visit_member"),
            models.Index(fields=["household", "-happened_at"], name="outreach_visit_household"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.happened_at:%Y-%m-%d %H:%M}"


def visit_photo_path(instance: VisitPhoto, filename: str) -> str:
    """A random name under visits/<year>/<month>/: the member's file name may hold a person's
    name, and a guessable path would let anyone with the media URL walk through the photos."""
    from django.utils import timezone

    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"visits/{timezone.now():%Y/%m}/{random_code(20)}.{extension}"


class VisitPhoto(models.Model):
    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="photos"
    )
    file = models.FileField(
        _("photo"),
        upload_to=visit_photo_path,
        max_length=200,
        help_text=_(
            "A JPEG, PNG or WebP photo of the visit. Never a photo of an identity card (CCCD) or "
            "of a screen showing a VNeID account: those are sensitive data and are not kept."
        ),
    )
    width = models.PositiveIntegerField(_("width"), editable=False)
    height = models.PositiveIntegerField(_("height"), editable=False)
    size = models.PositiveIntegerField(_("size (bytes)"), editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")

    def __str__(self) -> str:
        return self.file.name


class VisitOutcome(models.Model):
    """What the visit did for one resident and one service. Append-only and written in bulk with
    the visit; it has no change history (the visit's own history covers edits)."""

    visit = models.ForeignKey(
        Visit,
        verbose_name=_("visit"),
        on_delete=models.CASCADE,
        related_name="outcomes",
        db_index=False,
    )
    resident = models.ForeignKey(
        Resident, verbose_name=_("resident"), on_delete=models.PROTECT, related_name="outcomes"
    )
    service = models.CharField(_("service"), max_length=16, choices=Service.choices)
    result = models.CharField(_("result"), max_length=12, choices=Result.choices)
    new_state = models.CharField(_("new state"), max_length=16, choices=State.choices, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("visit outcome")
        verbose_name_plural = _("visit outcomes")
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "resident", "service"], name="outreach_outcome_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} {self.get_service_display()}: {self.get_result_display()}"


# --- Check-ins ------------------------------------------------------------------------------


class CheckInWarning(models.TextChoices):
    NO_POINT = "no_point", _("No location given")
    FAR = "far", _("Far from the hamlet centre")
    INACCURATE = "inaccurate", _("Location not accurate")
    NO_CENTRE = "no_centre", _("The hamlet has no centre point")
    OTHER_HAMLET = "other_hamlet", _("Not the team's hamlet")


class CheckInQuerySet(models.QuerySet["CheckIn"]):
    def visible_to(self, user: Viewer) -> CheckInQuerySet:
        return _scoped(self, user, commune="hamlet__commune_id", team="team_id")


class CheckIn(models.Model):
    """A member says "I am at this hamlet now". Many per member per day and never edited: no
    change history (it would double every write and record nothing new)."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=100, unique=True, editable=False
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="checkins",
        db_index=False,
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="checkins"
    )
    hamlet = models.ForeignKey(
        Hamlet,
        verbose_name=_("hamlet or quarter"),
        on_delete=models.PROTECT,
        related_name="checkins",
        db_index=False,
    )
    at = models.DateTimeField(_("at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    accuracy_m = models.PositiveIntegerField(_("accuracy (m)"), null=True, blank=True)
    distance_m = models.PositiveIntegerField(
        _("distance from the hamlet centre (m)"), null=True, blank=True
    )
    warnings = models.JSONField(
        _("warnings"), default=list, blank=True, help_text=_("Codes from CheckInWarning.")
    )

    objects = CheckInQuerySet.as_manager()

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [
            models.CheckConstraint(
                condition=point_in_vietnam(), name="outreach_checkin_point_in_vietnam"
            )
        ]
        indexes = [
            models.Index(fields=["member", "-at"], name="outreach_checkin_member"),
            models.Index(fields=["hamlet", "-at"], name="outreach_checkin_hamlet"),
        ]

    def __str__(self) -> str:
        return f"{self.member} @ {self.hamlet.name} {self.at:%Y-%m-%d %H:%M}"


# --- Field reports --------------------------------------------------------------------------


class ReportCategory(models.TextChoices):
    CONNECTIVITY = "connectivity", _("Connectivity")
    SCAM = "scam", _("Scam attempt")
    COMPLAINT = "complaint", _("Residents' complaint")
    EQUIPMENT = "equipment", _("Equipment")
    OTHER = "other", _("Other")


class ReportStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ASSIGNED = "assigned", _("Assigned")
    CLOSED = "closed", _("Closed")


class FieldReportQuerySet(models.QuerySet["FieldReport"]):
    def visible_to(self, user: Viewer) -> FieldReportQuerySet:
        return _scoped(self, user, commune="commune_id", team="team_id")


def report_photo_path(instance: FieldReport, filename: str) -> str:
    from django.utils import timezone

    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"reports/{timezone.now():%Y/%m}/{random_code(20)}.{extension}"


class FieldReport(models.Model):
    """A problem a member saw in the field (phản ánh hiện trường), handled by the commune."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=100, unique=True, editable=False
    )
    reporter = models.ForeignKey(
        Member,
        verbose_name=_("reported by"),
        on_delete=models.PROTECT,
        related_name="field_reports",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="field_reports",
    )
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=CURRENT_COMMUNE,
        db_index=False,
    )
    hamlet = models.ForeignKey(
        Hamlet,
        verbose_name=_("hamlet or quarter"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="field_reports",
    )
    category = models.CharField(_("category"), max_length=12, choices=ReportCategory.choices)
    text = models.TextField(_("what happened"))
    photo = models.FileField(
        _("photo"),
        upload_to=report_photo_path,
        max_length=200,
        blank=True,
        help_text=_("JPEG, PNG or WebP. Never a photo of an identity card."),
    )
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=ReportStatus.choices, default=ReportStatus.OPEN
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_field_reports",
    )
    answer = models.TextField(
        _("answer"), blank=True, help_text=_("Sent to the member who reported it.")
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    # Set by the bot once it has told the reporter of the answer.
    reporter_notified_at = models.DateTimeField(
        _("reporter notified at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()
    objects = FieldReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("field report")
        verbose_name_plural = _("field reports")
        constraints = [
            models.CheckConstraint(
                condition=point_in_vietnam(), name="outreach_report_point_in_vietnam"
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False)
                | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="outreach_report_closed_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["commune", "status", "-created_at"], name="outreach_report_list"),
            # The bot's "answers not yet delivered".
            models.Index(
                fields=["answered_at"],
                condition=Q(answered_at__isnull=False, reporter_notified_at__isnull=True),
                name="outreach_report_to_notify",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.get_category_display()}"
