from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.static import serve as static_serve
from django_ratelimit.decorators import ratelimit

from cnsc.core.models import CREDENTIAL_CODE_LENGTH, Credential, normalise_code

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 when it does not. Says nothing else about the system."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("healthz: database unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _verify_rate(group: str, request: HttpRequest) -> str:
    # Read per request so the limit follows the settings (and tests can lower it).
    return settings.VERIFY_RATE_LIMIT


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "core/verify.html", {"state": "limited"}, status=429)


@require_safe
@never_cache
@ratelimit(group="verify", key="ip", rate=_verify_rate, block=False)
def verify(request: HttpRequest, code: str) -> HttpResponse:
    """The public page a badge's or certificate's QR code opens: valid, expired, revoked or
    unknown, with the holder's name, title, issuer and dates, nothing else. Every lookup counts
    against the visitor's rate limit, so codes cannot be tried in bulk."""
    if getattr(request, "limited", False):
        return _too_many(request)
    wanted = normalise_code(code)
    credential = (
        Credential.objects.filter(code=wanted).first()
        if len(wanted) == CREDENTIAL_CODE_LENGTH
        else None
    )
    if credential is None:
        return render(request, "core/verify.html", {"state": "unknown", "code": code}, status=404)
    response = render(
        request,
        "core/verify.html",
        {"state": credential.status(), "credential": credential},
    )
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
@never_cache
def verify_lookup(request: HttpRequest) -> HttpResponse:
    """For a code typed from paper when the QR code will not scan."""
    typed = request.GET.get("code", "").strip()
    wanted = normalise_code(typed)
    if wanted:
        return redirect("core:verify", code=wanted)
    return render(
        request, "core/verify.html", {"state": "lookup", "code": typed, "malformed": bool(typed)}
    )


PRIVATE_MEDIA = ("visits/", "reports/")


def media_in_development(request: HttpRequest, path: str, document_root: str) -> HttpResponseBase:
    """Django's development file server, with a name the file system refuses (too long, a NUL)
    answered as not found instead of a server error. Photos of visits and field reports are not
    among its files: they show people, and only outreach:photo serves them, to who may see them."""
    if path.startswith(PRIVATE_MEDIA):
        raise Http404
    try:
        return static_serve(request, path, document_root=document_root)
    except (OSError, ValueError):
        raise Http404 from None
