"""Two-factor sign-in: who must use it, and how an authenticator is shown for enrolment.

A time-based code (TOTP, RFC 6238) from an authenticator app on the user's phone, or one of ten
single-use recovery codes. Province staff and superusers must use it wherever ``OTP_REQUIRED`` is
on (always in production); commune officials and team leaders when
``OTP_REQUIRED_FOR_COMMUNE_OFFICIALS`` is on too. Whoever has set up an authenticator is asked for
a code at every sign-in, required or not. The writes live in ``cnsc.access.services``.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
from typing import Any

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from cnsc.access.roles import Role
from cnsc.core.pdf import qr_image

RECOVERY_CODE_COUNT = 10
# Ten letters and digits without look-alikes (0/o, 1/l/i): about 50 bits, typed from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10


def second_factor_required(user: Any) -> bool:
    """Whether the deployment obliges this user to sign in with a second factor."""
    if not settings.OTP_REQUIRED or not user.is_authenticated:
        return False
    if user.is_superuser or user.role == Role.PROVINCE_STAFF:
        return True
    return bool(user.role) and settings.OTP_REQUIRED_FOR_COMMUNE_OFFICIALS


def has_authenticator(user: Any) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def second_factor_needed(user: Any) -> bool:
    """Required, or set up by the user: either way a code is asked before anything else."""
    return second_factor_required(user) or has_authenticator(user)


def normalise_code(typed: str) -> str:
    """What the user typed, without the spaces and dashes people add when copying codes."""
    return re.sub(r"[\s-]+", "", typed).lower()


def new_recovery_code() -> str:
    return "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def recovery_code_display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def secret_display(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app when the camera fails."""
    key = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def provisioning_qr(device: TOTPDevice) -> str:
    """The otpauth:// URI as a PNG data URI (the page's CSP allows data: images only)."""
    buffer = io.BytesIO()
    qr_image(device.config_url, box_size=6).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
