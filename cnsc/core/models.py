"""Credentials a resident can check: a member's badge or a training certificate.

A credential holds only what the public verify page shows (name, title, issuer, dates), copied at
issue time, and points generically at what it certifies, so the apps that issue them (team,
training) stay free to change their own rows. Nothing else personal is kept here.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core.codes import ALPHABET, random_code

# 31 ** 16 ≈ 2 ** 79: not guessable even at the verify page's rate limit over decades.
CREDENTIAL_CODE_LENGTH = 16


def new_credential_code() -> str:
    return random_code(CREDENTIAL_CODE_LENGTH)


def normalise_code(raw: str) -> str:
    """A code as typed from paper: any case, with the spaces or dashes it is printed with."""
    return "".join(ch for ch in raw.upper() if ch in ALPHABET)


def format_code(code: str) -> str:
    """Groups of four, as printed: "ABCD-EFGH-JKMN-PQRS" is easier to read aloud and compare."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class CredentialKind(models.TextChoices):
    BADGE = "badge", _("Member badge")
    CERTIFICATE = "certificate", _("Certificate")


class CredentialStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class CredentialQuerySet(models.QuerySet["Credential"]):
    def for_subject(self, subject: models.Model) -> CredentialQuerySet:
        return self.filter(
            content_type=ContentType.objects.get_for_model(subject), object_id=subject.pk
        )

    def not_revoked(self) -> CredentialQuerySet:
        return self.filter(revoked_at__isnull=True)


class Credential(models.Model):
    code = models.CharField(
        _("code"),
        max_length=CREDENTIAL_CODE_LENGTH,
        unique=True,
        default=new_credential_code,
        editable=False,
    )
    kind = models.CharField(_("kind"), max_length=12, choices=CredentialKind.choices)
    holder_name = models.CharField(_("holder's name"), max_length=120)
    title = models.CharField(
        _("title"), max_length=250, help_text=_("Role and team, or the course completed.")
    )
    issuer = models.CharField(
        _("issued by"), max_length=160, help_text=_("Usually the commune's name.")
    )
    issued_on = models.DateField(_("issued on"), default=timezone.localdate)
    valid_until = models.DateField(
        _("valid until"), null=True, blank=True, help_text=_("Empty: does not expire.")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason for revoking"), max_length=250, blank=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("certifies a"), on_delete=models.PROTECT
    )
    object_id = models.PositiveBigIntegerField(_("certifies row"))
    subject = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = CredentialQuerySet.as_manager()

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("issued_on")),
                name="core_credential_valid_after_issue",
            ),
            # A revocation always says why; an unrevoked credential has no reason.
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_reason="")
                | (Q(revoked_at__isnull=False) & ~Q(revoked_reason="")),
                name="core_credential_revoked_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(holder_name="") & ~Q(title="") & ~Q(issuer=""),
                name="core_credential_public_fields_set",
            ),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_code(self.code)}"

    def status(self, today: dt.date | None = None) -> CredentialStatus:
        """Revoked wins over expired; ``valid_until`` is the last valid day."""
        if self.revoked_at is not None:
            return CredentialStatus.REVOKED
        today = today or timezone.localdate()
        if self.valid_until is not None and self.valid_until < today:
            return CredentialStatus.EXPIRED
        return CredentialStatus.VALID

    @property
    def display_code(self) -> str:
        return format_code(self.code)
