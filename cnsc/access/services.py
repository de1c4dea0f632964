from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cnsc.access.models import AuditEvent, User
from cnsc.access.twofactor import (
    RECOVERY_CODE_COUNT,
    RECOVERY_CODE_LENGTH,
    new_recovery_code,
    normalise_code,
    recovery_code_display,
)
from cnsc.core.types import Viewer

security_log = logging.getLogger("cnsc.security")


def audit_record(
    *,
    user: Viewer | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    rows: int = 0,
    unmasked: bool = False,
) -> AuditEvent:
    """Record an access to personal data. ``detail`` says how (filters, file name), never what."""
    return AuditEvent.objects.create(
        user=user if isinstance(user, User) and user.is_authenticated else None,
        action=action,
        target=target,
        detail=detail or {},
        rows=rows,
        unmasked=unmasked,
    )


@dataclass(frozen=True)
class CodeCheck:
    """The device that accepted a code, or why none did."""

    device: Device | None
    throttled: bool = False


def second_factor_verify(*, user: User, code: str) -> CodeCheck:
    """Check a six-digit authenticator code, or else a recovery code (used up by this check).

    Every wrong code makes the next attempt on that device wait longer (django-otp throttling),
    so six digits cannot be tried through in bulk.
    """
    code = normalise_code(code)
    if re.fullmatch(r"\d{6}", code):
        devices: list[Device] = list(TOTPDevice.objects.devices_for_user(user, confirmed=True))
    elif len(code) == RECOVERY_CODE_LENGTH:
        devices = list(StaticDevice.objects.devices_for_user(user, confirmed=True))
    else:
        return CodeCheck(device=None)
    throttled = False
    for device in devices:
        # verify_token locks the device row, so two requests cannot both use one code.
        accepted = verify_token(user, device.persistent_id, code)
        if accepted is not None:
            return CodeCheck(device=accepted)
        throttled = throttled or not device.verify_is_allowed()[0]
    return CodeCheck(device=None, throttled=throttled)


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """The authenticator being set up, created on the first call: a page reload shows the same
    secret, so a code from an app that already scanned it still works."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the authenticator being set up with a code it shows. A confirmed authenticator
    replaces the user's earlier one (a new phone), and a fresh set of recovery codes replaces
    the old set. Returns the device and the codes, to be shown once; None for a wrong code."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(normalise_code(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, recovery_codes_replace(user=user)


@transaction.atomic
def recovery_codes_replace(*, user: User) -> list[str]:
    """Ten new single-use recovery codes; the earlier ones stop working."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="recovery", defaults={"confirmed": True}
    )
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [recovery_code_display(code) for code in codes]


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def second_factor_reset(*, user: User, by: Viewer) -> int:
    """Remove a user's authenticator and recovery codes (a lost phone). If the second factor is
    required, they set up a new one at their next sign-in. Returns the devices removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        _total, per_model = model.objects.filter(user=user).delete()
        removed += per_model.get(model._meta.label, 0)
    security_log.info("signin.second_factor_reset", extra={"user_id": user.pk, "by_user_id": by.pk})
    return removed
