"""Issuing and revoking credentials, and the public address where a resident checks one."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cnsc.core.models import Credential, CredentialKind
from cnsc.core.text import nfc


def verify_url(code: str) -> str:
    """The absolute address printed in a credential's QR code (``PUBLIC_BASE_URL`` + path)."""
    return settings.PUBLIC_BASE_URL + reverse("core:verify", args=[code])


@transaction.atomic
def credential_issue(
    *,
    kind: CredentialKind | str,
    holder_name: str,
    title: str,
    issuer: str,
    valid_until: dt.date | None,
    subject: models.Model,
    issued_on: dt.date | None = None,
) -> Credential:
    """A new credential with a fresh random code. Only the public fields given are kept: they are
    what the verify page shows, as they were on the day of issue."""
    if subject.pk is None:
        raise ValueError("a credential certifies a saved row")
    credential = Credential(
        kind=kind,
        holder_name=nfc(holder_name),
        title=nfc(title),
        issuer=nfc(issuer),
        issued_on=issued_on or timezone.localdate(),
        valid_until=valid_until,
        content_type=ContentType.objects.get_for_model(subject),
        object_id=subject.pk,
    )
    credential.full_clean()
    credential.save()
    return credential


@transaction.atomic
def credential_revoke(*, credential: Credential, reason: str) -> Credential:
    """Revoke at once: the verify page says "revoked" from the next request on. Revoking an
    already revoked credential keeps the first date and reason."""
    reason = nfc(reason)
    if not reason:
        raise ValidationError({"revoked_reason": _("Say why the credential is revoked.")})
    locked = Credential.objects.select_for_update().get(pk=credential.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_reason = reason[: Credential._meta.get_field("revoked_reason").max_length]
        locked.save(update_fields=["revoked_at", "revoked_reason"])
    credential.revoked_at = locked.revoked_at
    credential.revoked_reason = locked.revoked_reason
    return locked
