"""Teams (Tổ CNSC), their members, who is in which team since when, and targets.

A member's history is the list of their memberships: leaving ends a membership (``left_on``) and
keeps it; moving to another team ends one and starts another. The database holds the rules that
a race could break: one active leader per team, one active membership per person.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.access.roles import Role
from cnsc.core.codes import random_code
from cnsc.core.identity import Sex
from cnsc.core.text import nfc, search_key
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level

CURRENT_COMMUNE = {"hierarchy": Hierarchy.CURRENT, "level": Level.COMMUNE}


def team_code() -> str:
    return random_code(6)


def _is_team_leader(user: Viewer) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and not getattr(user, "is_superuser", False)
        and getattr(user, "role", "") == Role.TEAM_LEADER
    )


def led_team_ids(user: Viewer) -> models.QuerySet[Any, Any]:
    """Teams the user leads now (through their member record), as a subquery."""
    return Membership.objects.filter(
        member__user_id=user.pk or 0, role=MemberRole.LEADER, left_on__isnull=True
    ).values("team_id")


class TeamKind(models.TextChoices):
    HAMLET = "hamlet", _("Hamlet or quarter team")
    ORGANISATION = "organisation", _("Organisation or enterprise team")


class TeamStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DISSOLVED = "dissolved", _("Dissolved")


class TeamQuerySet(models.QuerySet["Team"]):
    def visible_to(self, user: Viewer) -> TeamQuerySet:
        """Officials and province staff: the teams of their communes. Team leaders: the teams
        they lead. Anyone else: nothing."""
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if _is_team_leader(user):
            return self.filter(id__in=led_team_ids(user))
        return self.filter(commune_id__in=scope.commune_ids())

    def active(self) -> TeamQuerySet:
        return self.filter(status=TeamStatus.ACTIVE)


class Team(models.Model):
    """A Tổ CNSC: of a hamlet or quarter, or of an organisation within a commune."""

    # Denormalised from the hamlet so organisation teams and scoping need no join.
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="teams",
        limit_choices_to=CURRENT_COMMUNE,
    )
    hamlet = models.ForeignKey(
        Hamlet,
        verbose_name=_("hamlet or quarter"),
        on_delete=models.PROTECT,
        related_name="teams",
        null=True,
        blank=True,
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=TeamKind.choices, default=TeamKind.HAMLET
    )
    organisation_name = models.CharField(
        _("organisation or enterprise"),
        max_length=200,
        blank=True,
        help_text=_("For teams of an organisation or enterprise."),
    )
    code = models.CharField(
        _("code"),
        max_length=20,
        default=team_code,
        help_text=_("Unique within the commune, e.g. the number in the founding decision."),
    )
    name = models.CharField(_("name"), max_length=200)
    decision_number = models.CharField(_("founding decision number"), max_length=60, blank=True)
    decision_date = models.DateField(_("founding decision date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TeamStatus.choices, default=TeamStatus.ACTIVE
    )
    status_since = models.DateField(
        _("status since"),
        default=timezone.localdate,
        help_text=_("Earlier statuses and their dates are kept in the history."),
    )
    search_name = models.CharField(max_length=400, editable=False, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = TeamQuerySet.as_manager()

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["commune__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["commune", "code"],
                name="team_team_unique_code",
                violation_error_message=_("Another team of this commune already has this code."),
            ),
            models.CheckConstraint(
                condition=Q(kind=TeamKind.ORGANISATION) & ~Q(organisation_name="")
                | Q(kind=TeamKind.HAMLET, hamlet__isnull=False),
                name="team_team_kind_fields",
                violation_error_message=_(
                    "A hamlet team needs its hamlet; an organisation team needs the "
                    "organisation's name."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name = nfc(self.name)
        self.organisation_name = nfc(self.organisation_name)
        self.code = self.code.strip()
        self.search_name = search_key(f"{self.name} {self.organisation_name} {self.code}")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        commune: AdminUnit | None = self.commune if self.commune_id else None
        if commune is not None and (
            commune.hierarchy != Hierarchy.CURRENT or commune.level != Level.COMMUNE
        ):
            errors["commune"] = _("Choose a current commune or ward.")
        hamlet: Hamlet | None = self.hamlet if self.hamlet_id else None
        if hamlet is not None and commune is not None and hamlet.commune_id != commune.pk:
            errors["hamlet"] = _("This hamlet belongs to another commune.")
        elif hamlet is not None and hamlet.retired_on is not None and self._state.adding:
            errors["hamlet"] = _("This hamlet has been retired.")
        if self.kind == TeamKind.HAMLET and hamlet is None:
            errors["hamlet"] = _("A hamlet team needs its hamlet or quarter.")
        if self.kind == TeamKind.ORGANISATION and not nfc(self.organisation_name):
            errors["organisation_name"] = _("Give the name of the organisation or enterprise.")
        if self.decision_date and self.decision_date > timezone.localdate():
            errors["decision_date"] = _("The founding decision date is in the future.")
        if errors:
            raise ValidationError(errors)


class TargetQuerySet(models.QuerySet["Target"]):
    def visible_to(self, user: Viewer) -> TargetQuerySet:
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if _is_team_leader(user):
            return self.none()
        # Officials also see their province's targets, to compare their commune with them.
        provinces = AdminUnit.objects.filter(id__in=scope.commune_ids()).values("province_id")
        return self.filter(
            Q(unit_id__in=AdminUnit.objects.visible_to(user).values("id"))
            | Q(unit_id__in=provinces)
        )


class Target(models.Model):
    """How many members and teams a unit aims for in a year (Bình Dương 2023: 4,500 members).
    The unit may be a former one, so an old plan can be compared with what was reached."""

    unit = models.ForeignKey(
        AdminUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="team_targets"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    members = models.PositiveIntegerField(_("members"), default=0)
    teams = models.PositiveIntegerField(_("teams"), default=0)

    history = HistoricalRecords()
    objects = TargetQuerySet.as_manager()

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["-year", "unit__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "year"],
                name="team_target_unique_unit_year",
                violation_error_message=_("This unit already has a target for this year."),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2020, year__lte=2100), name="team_target_year_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} {self.year}"


# Members are adults or older teenagers (the youth union enrols from 16; pupils help from 14).
MIN_AGE, MAX_AGE = 14, 100


class Organisation(models.TextChoices):
    COMMUNE_POLICE = "police", _("Commune police")
    YOUTH_UNION = "youth_union", _("Youth union")
    WOMENS_UNION = "womens_union", _("Women's union")
    VETERANS = "veterans", _("Veterans' association")
    POST_OFFICE = "post_office", _("Post office")
    TELECOM = "telecom", _("Telecom operator")
    SCHOOL = "school", _("School")
    HEALTH_STATION = "health_station", _("Health station")
    HAMLET_LEADERSHIP = "hamlet_leadership", _("Hamlet leadership")
    OTHER = "other", _("Other")


class MemberQuerySet(models.QuerySet["Member"]):
    def visible_to(self, user: Viewer) -> MemberQuerySet:
        """Officials and province staff: members on their communes' rosters. Team leaders: the
        current members of the teams they lead."""
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if _is_team_leader(user):
            # One active membership per member, so this join cannot duplicate rows.
            return self.filter(
                memberships__team_id__in=led_team_ids(user), memberships__left_on__isnull=True
            )
        return self.filter(commune_id__in=scope.commune_ids())


class Member(models.Model):
    """A volunteer. Personal data: phone in E.164, CCCD only as a keyed hash and its last four
    digits (cnsc.core.identity)."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    # The commune whose roster holds the member; follows them when they move to another
    # commune's team. Scoping reads it.
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="team_members",
        limit_choices_to=CURRENT_COMMUNE,
    )
    full_name = models.CharField(_("full name"), max_length=150)
    search_name = models.CharField(max_length=150, editable=False, db_index=True)
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"))
    phone = models.CharField(
        _("phone"),
        max_length=16,
        help_text=_("Stored as +84…"),
        error_messages={"unique": _("A member with this phone number is already on a roster.")},
    )
    email = models.EmailField(_("e-mail"), blank=True)
    # Keyed hash of the CCCD (never the number): see cnsc.core.identity.
    cccd_hash = models.CharField(max_length=64, blank=True, editable=False)
    cccd_last4 = models.CharField(_("CCCD (last four digits)"), max_length=4, blank=True)
    cccd_key_id = models.CharField(max_length=8, blank=True, editable=False)
    organisation = models.CharField(
        _("comes from"), max_length=20, choices=Organisation.choices, default=Organisation.OTHER
    )
    skills = models.TextField(_("skills"), blank=True)
    consent_purpose = models.CharField(_("purpose of consent"), max_length=300, blank=True)
    consent_given_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="member",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # The hash stays out of the history: one copy of it is enough (and re-keying touches one
    # table).
    history = HistoricalRecords(excluded_fields=["cccd_hash", "cccd_key_id"])
    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["search_name"]
        permissions = [("view_personal_data", _("May export unmasked personal data"))]
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="team_member_unique_phone"),
            models.UniqueConstraint(
                fields=["cccd_hash"],
                condition=~Q(cccd_hash=""),
                name="team_member_unique_cccd",
                violation_error_message=_("A member with this CCCD is already on a roster."),
            ),
            models.CheckConstraint(
                condition=Q(cccd_hash="", cccd_last4="", cccd_key_id="")
                | (~Q(cccd_hash="") & ~Q(cccd_last4="") & ~Q(cccd_key_id="")),
                name="team_member_cccd_complete",
            ),
            models.CheckConstraint(
                condition=Q(birth_year__gte=1900, birth_year__lte=2100),
                name="team_member_birth_year_range",
            ),
            models.CheckConstraint(
                condition=Q(consent_given_at__isnull=True) | ~Q(consent_purpose=""),
                name="team_member_consent_has_purpose",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.full_name = nfc(self.full_name)
        self.search_name = search_key(self.full_name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Rules on the member's own fields; no queries, so an import can run it per row."""
        errors: dict[str, Any] = {}
        if not nfc(self.full_name):
            errors["full_name"] = _("Enter the member's full name.")
        this_year = timezone.localdate().year
        if self.birth_year is not None and not (
            this_year - MAX_AGE <= self.birth_year <= this_year - MIN_AGE
        ):
            errors["birth_year"] = _(
                "The year of birth must make the member between %(min)d and %(max)d years old."
            ) % {"min": MIN_AGE, "max": MAX_AGE}
        if self.commune_id and not (
            self.commune.hierarchy == Hierarchy.CURRENT and self.commune.level == Level.COMMUNE
        ):
            errors["commune"] = _("Choose a current commune or ward.")
        if self.consent_given_at and not self.consent_purpose.strip():
            errors["consent_purpose"] = _("Say what the member consented to.")
        if errors:
            raise ValidationError(errors)


class MemberRole(models.TextChoices):
    LEADER = "leader", _("Leader")
    DEPUTY = "deputy", _("Deputy")
    MEMBER = "member", _("Member")


class MembershipQuerySet(models.QuerySet["Membership"]):
    def visible_to(self, user: Viewer) -> MembershipQuerySet:
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if _is_team_leader(user):
            return self.filter(team_id__in=led_team_ids(user))
        return self.filter(team__commune_id__in=scope.commune_ids())

    def active(self, on: Any = None) -> MembershipQuerySet:
        """Memberships running on ``on`` (today by default)."""
        if on is None:
            return self.filter(left_on__isnull=True)
        return self.filter(Q(left_on__isnull=True) | Q(left_on__gt=on), joined_on__lte=on)


class Membership(models.Model):
    """A member in a team, in a role, from ``joined_on`` until ``left_on`` (open while null)."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(
        _("role"), max_length=8, choices=MemberRole.choices, default=MemberRole.MEMBER
    )
    joined_on = models.DateField(_("joined on"), default=timezone.localdate)
    left_on = models.DateField(_("left on"), null=True, blank=True)

    history = HistoricalRecords()
    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-joined_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"],
                condition=Q(role="leader", left_on__isnull=True),
                name="team_membership_one_active_leader",
                violation_error_message=_(
                    "This team already has a leader. End the current leader's membership (or "
                    "make them a member) first."
                ),
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(left_on__isnull=True),
                name="team_membership_one_active_per_member",
                violation_error_message=_("This person is already in a team: move them instead."),
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=F("joined_on")),
                name="team_membership_left_after_joined",
                violation_error_message=_("A member cannot leave before the day they joined."),
            ),
        ]
        indexes = [models.Index(fields=["team", "left_on"], name="team_membership_team_active")]

    def __str__(self) -> str:
        return f"{self.member} — {self.team} ({self.get_role_display()})"

    @property
    def is_active(self) -> bool:
        return self.left_on is None

    def clean(self) -> None:
        today = timezone.localdate()
        errors: dict[str, Any] = {}
        if self.joined_on and self.joined_on > today:
            errors["joined_on"] = _("The date cannot be in the future.")
        if self.left_on and self.left_on > today:
            errors["left_on"] = _("The date cannot be in the future.")
        elif self.left_on and self.joined_on and self.left_on < self.joined_on:
            errors["left_on"] = _("A member cannot leave before the day they joined.")
        if (
            self.team_id
            and self._state.adding
            and self.left_on is None
            and self.team.status == TeamStatus.DISSOLVED
        ):
            errors["team"] = _("This team has been dissolved.")
        if errors:
            raise ValidationError(errors)
