"""The second step of signing in: a code from the authenticator app (or a recovery code), setting
up an authenticator, and new recovery codes. The first step is the back office's own sign-in page;
cnsc.access.middleware.SecondFactorMiddleware sends users here from everywhere else."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from cnsc.access.forms import CodeForm
from cnsc.access.services import (
    recovery_codes_left,
    recovery_codes_replace,
    second_factor_verify,
    totp_device_confirm,
    totp_device_start,
)
from cnsc.access.signin import client_ip
from cnsc.access.twofactor import (
    has_authenticator,
    provisioning_qr,
    second_factor_required,
    secret_display,
)

security_log = logging.getLogger("cnsc.security")


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("admin:index")


def _with_next(name: str, request: HttpRequest) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next(request)})}"


def _page(request: HttpRequest, template: str, title: str, **extra: Any) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, "next": _next(request), **extra}
    return render(request, template, context)


def _log(event: str, request: HttpRequest, **extra: Any) -> None:
    security_log.info(event, extra={"user_id": request.user.pk, "ip": client_ip(request), **extra})


def _verified(request: HttpRequest, device: Any) -> None:
    otp_login(request, device)
    # A new session key once the session is worth more, as at sign-in.
    request.session.cycle_key()


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.is_verified():
        return HttpResponseRedirect(_next(request))
    if not has_authenticator(user):
        if second_factor_required(user):
            return HttpResponseRedirect(_with_next("access:two_factor_setup", request))
        return HttpResponseRedirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = second_factor_verify(user=user, code=form.cleaned_data["code"])
        if check.device is not None:
            _verified(request, check.device)
            recovery = isinstance(check.device, StaticDevice)
            _log("signin.second_factor", request, recovery_code=recovery)
            if recovery:
                left = recovery_codes_left(user=user)
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code. %(count)d code is left: make new "
                        "ones on the two-factor page.",
                        "You signed in with a recovery code. %(count)d codes are left: make new "
                        "ones on the two-factor page.",
                        left,
                    )
                    % {"count": left},
                )
            return HttpResponseRedirect(_next(request))
        security_log.warning(
            "signin.second_factor_failed",
            extra={"user_id": user.pk, "ip": client_ip(request), "throttled": check.throttled},
        )
        form.add_error(
            "code",
            _("Too many wrong codes. Wait a minute, then try again.")
            if check.throttled
            else _(
                "This code is not right. Type the six digits your app shows now, or a "
                "recovery code."
            ),
        )
    return _page(request, "access/two_factor.html", _("Two-factor sign-in"), form=form)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if has_authenticator(user) and not user.is_verified():
        # A new phone replaces the old one only after a code from the old one (or a recovery code).
        return HttpResponseRedirect(_with_next("access:two_factor", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        confirmed = totp_device_confirm(user=user, code=form.cleaned_data["code"])
        if confirmed is not None:
            device, codes = confirmed
            _verified(request, device)
            _log("signin.second_factor_enrolled", request)
            return _page(
                request, "access/recovery_codes.html", _("Your recovery codes"), codes=codes
            )
        security_log.warning(
            "signin.second_factor_failed",
            extra={"user_id": user.pk, "ip": client_ip(request), "enrolment": True},
        )
        form.add_error(
            "code", _("This code is not right. Type the six digits the app shows for CNSC now.")
        )
    device = totp_device_start(user=user)
    return _page(
        request,
        "access/two_factor_setup.html",
        _("Set up two-factor sign-in"),
        form=form,
        qr=provisioning_qr(device),
        secret=secret_display(device),
        required=second_factor_required(user),
    )


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once. Reached only with a verified session (the middleware asks
    users who have an authenticator for a code first)."""
    user: Any = request.user
    if not has_authenticator(user):
        return redirect("access:two_factor_setup")
    if request.method == "POST":
        codes = recovery_codes_replace(user=user)
        _log("signin.recovery_codes_replaced", request)
        return _page(request, "access/recovery_codes.html", _("Your recovery codes"), codes=codes)
    return _page(
        request,
        "access/recovery_codes.html",
        _("Two-factor sign-in"),
        left=recovery_codes_left(user=user),
    )


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """What django-axes answers (429) while a username is locked for this address."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = _page(request, "access/locked_out.html", _("Too many attempts"), minutes=minutes)
    response.status_code = 429
    return response
