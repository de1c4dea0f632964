"""The sign-in log: one structured line per sign-in, failure, lock-out and sign-out.

Lines carry the user's numeric id and the client's IP, never a password and never the name typed
into the form (a password typed into the wrong box would otherwise land in the log).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from cnsc.access.models import User

security_log = logging.getLogger("cnsc.security")

# Session keys: when the user signed in, and when they were last seen (seconds since the epoch).
SIGNED_IN_AT = "cnsc_signed_in_at"
SEEN_AT = "cnsc_seen_at"


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's IP, from the request header the reverse proxy sets (RATELIMIT_IP_META_KEY)
    or REMOTE_ADDR. django-axes and the rate limits read it the same way; misconfigured behind a
    proxy, every visitor would share the proxy's address and one lock."""
    raw = request.META.get(settings.RATELIMIT_IP_META_KEY) or ""
    # In a list (X-Forwarded-For) only the last hop, added by our own proxy, cannot be forged.
    return raw.split(",")[-1].strip() or None


def _user_id(username: Any) -> int | None:
    if not isinstance(username, str) or not username:
        return None
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def on_signed_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[SEEN_AT] = now
    security_log.info(
        "signin.ok",
        extra={"user_id": user.pk, "ip": client_ip(request) if request is not None else None},
    )


def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    security_log.warning(
        "signin.failed",
        extra={
            "user_id": _user_id(credentials.get("username")),
            "ip": client_ip(request) if request is not None else None,
        },
    )


def on_signed_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    security_log.info(
        "signout",
        extra={
            "user_id": user.pk if user is not None else None,
            "ip": client_ip(request) if request is not None else None,
        },
    )


def on_locked_out(
    sender: Any, request: HttpRequest, username: Any = None, ip_address: Any = None, **kwargs: Any
) -> None:
    security_log.warning(
        "signin.locked",
        extra={
            "user_id": _user_id(username),
            "ip": ip_address,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cool_off_minutes": settings.AXES_COOLOFF_TIME.total_seconds() // 60,
        },
    )


def connect() -> None:
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(on_signed_in, dispatch_uid="cnsc.signin.ok")
    user_login_failed.connect(on_sign_in_failed, dispatch_uid="cnsc.signin.failed")
    user_logged_out.connect(on_signed_out, dispatch_uid="cnsc.signout")
    user_locked_out.connect(on_locked_out, dispatch_uid="cnsc.signin.locked")
