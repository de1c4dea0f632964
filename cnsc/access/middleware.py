"""Sessions that end, a second factor before anything else, and a record of every refusal."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from cnsc.access.models import AuditAction
from cnsc.access.services import audit_record
from cnsc.access.signin import SEEN_AT, SIGNED_IN_AT, client_ip
from cnsc.access.twofactor import second_factor_needed
from cnsc.core.routes import is_public

security_log = logging.getLogger("cnsc.security")

# Refresh the last-seen time at most this often (seconds): a session write per request is waste.
_SEEN_RESOLUTION = 60


class SessionGuardMiddleware:
    """Ends a session after ``SESSION_IDLE_TIMEOUT`` seconds without a request, and
    ``SESSION_COOKIE_AGE`` seconds after sign-in however busy (Django alone would extend a session
    that is saved on every visit). A session whose account was disabled or deleted is thrown away:
    Django's backend already refuses an inactive user, this also deletes the session row."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if SESSION_KEY in session:
            if not request.user.is_authenticated:
                security_log.info(
                    "session.ended",
                    extra={"reason": "account_disabled", "user_id": session.get(SESSION_KEY)},
                )
                session.flush()
            else:
                self._expire_or_touch(request)
        return self.get_response(request)

    @staticmethod
    def _expire_or_touch(request: HttpRequest) -> None:
        session = request.session
        now = int(time.time())
        signed_in_at = session.get(SIGNED_IN_AT, now)
        seen_at = session.get(SEEN_AT, now)
        reason = None
        if now - seen_at > settings.SESSION_IDLE_TIMEOUT:
            reason = "idle"
        elif now - signed_in_at > settings.SESSION_COOKIE_AGE:
            reason = "absolute"
        if reason is not None:
            security_log.info(
                "session.ended",
                extra={"reason": reason, "user_id": request.user.pk, "ip": client_ip(request)},
            )
            logout(request)
            return
        if SIGNED_IN_AT not in session:
            session[SIGNED_IN_AT] = now
        if SEEN_AT not in session or now - seen_at >= _SEEN_RESOLUTION:
            session[SEEN_AT] = now


# What a signed-in user who still owes a code may reach: the code pages, sign-out and language.
_BEFORE_SECOND_FACTOR = frozenset(
    {"access:two_factor", "access:two_factor_setup", "admin:logout", "set_language"}
)


class SecondFactorMiddleware:
    """A signed-in user who must use a second factor, or has set one up, is sent to the code page
    from every other page until a code is accepted in this session. Must follow django-otp's
    OTPMiddleware (which tells whether the session is verified)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and _view_name(request) not in _BEFORE_SECOND_FACTOR
            and second_factor_needed(user)
        ):
            query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
            return HttpResponseRedirect(
                reverse("access:two_factor") + (f"?{query}" if query else "")
            )
        return self.get_response(request)


def _view_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return None


class DeniedAccessMiddleware:
    """Every 401, 403 or 404 answered to a signed-in user or an API client on a route that is not
    public is a refused attempt: one log line, and for a signed-in user an audit event (Access
    denied) naming the route, never the path (paths carry codes). Another commune's object answers
    404 like a missing one, so both are recorded; public pages (a badge check with an unknown code)
    are not."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code not in (401, 403, 404):
            return response
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if not signed_in and "Authorization" not in request.headers:
            return response
        match = getattr(request, "resolver_match", None)
        if match is not None and is_public(match):
            return response
        detail = {
            "route": match.route if match else None,
            "status": response.status_code,
            "method": request.method,
            "reason": getattr(request, "cnsc_denied", None),
        }
        security_log.warning(
            "access.denied",
            extra={
                **detail,
                "view": match.view_name if match else None,
                "user_id": user.pk if signed_in and user is not None else None,
                "token": not signed_in,
                "ip": client_ip(request),
            },
        )
        if signed_in and match is not None:
            audit_record(
                user=user,
                action=AuditAction.ACCESS_DENIED,
                target=(match.view_name or match.route)[:100],
                detail=detail,
            )
        return response
