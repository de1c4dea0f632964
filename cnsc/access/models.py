from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.access.roles import Role
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hierarchy, Level


class UserQuerySet(models.QuerySet["User"]):
    def visible_to(self, user: Viewer) -> UserQuerySet:
        """Users whose every assignment lies inside the viewer's scope. Superusers, and users with
        no unit at all, are seen by superusers only."""
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if not scope.unit_ids():
            return self.none()
        inside = AdminUnit.objects.visible_to(user).values("id")
        return (
            self.filter(is_superuser=False, assignments__unit_id__in=inside)
            .exclude(assignments__in=UnitAssignment.objects.exclude(unit_id__in=inside))
            .distinct()
        )


class CnscUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    read_only = models.BooleanField(
        _("read-only"),
        default=False,
        help_text=_("May look at everything in scope, change nothing."),
    )
    phone = models.CharField(_("phone"), max_length=16, blank=True)

    history = HistoricalRecords(excluded_fields=["password", "last_login"])
    objects: ClassVar[CnscUserManager] = CnscUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A role is what opens the back office; without one only a superuser gets in.
        self.is_staff = bool(self.role) or self.is_superuser
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if not self.role and not self.is_superuser:
            raise ValidationError({"role": _("Choose a role.")})


class UnitAssignment(models.Model):
    """A user is assigned to a current province or commune and sees it and all below it."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="assignments"
    )
    unit = models.ForeignKey(
        AdminUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="assignments",
        limit_choices_to=Q(hierarchy=Hierarchy.CURRENT),
    )
    assigned_at = models.DateTimeField(_("assigned at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("unit assignment")
        verbose_name_plural = _("unit assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit"], name="access_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.unit}"

    def clean(self) -> None:
        if self.unit_id and (
            self.unit.hierarchy != Hierarchy.CURRENT
            or self.unit.level not in (Level.PROVINCE, Level.COMMUNE)
        ):
            raise ValidationError({"unit": _("Assign a current province or commune.")})


class AuditAction(models.TextChoices):
    EXPORT = "export", _("Export")
    VIEW_PERSONAL = "view_personal", _("Viewed full personal data")
    IMPORT = "import", _("Import")
    CORRECT = "correct", _("Corrected personal data")
    ERASE = "erase", _("Erased personal data")
    ACCESS_DENIED = "denied", _("Access denied")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def visible_to(self, user: Viewer) -> AuditEventQuerySet:
        """Events of the users the viewer may see (superusers: all events)."""
        from cnsc.access.scope import scope_for

        if scope_for(user).everything:
            return self.all()
        return self.filter(user__in=User.objects.visible_to(user))


class AuditEvent(models.Model):
    """Who did what to personal data, when, with which filter and how many rows. Append-only: the
    detail never holds the personal data itself."""

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices)
    target = models.CharField(_("what"), max_length=100, help_text=_("e.g. team.member"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    unmasked = models.BooleanField(_("unmasked personal data"), default=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.target}"
