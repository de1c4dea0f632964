"""Request-wide protections: one structured log line per request (method, route, status, time; no
query strings, no bodies, no user names, only the user's numeric id), nothing kept in caches for a
signed-in user, and the back office's relaxed Content-Security-Policy."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from csp.constants import NONCE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger("cnsc.request")


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                # The route pattern, not the path: paths can carry codes and names.
                "route": match.route if match else None,
                "view": match.view_name if match else None,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class NoStoreMiddleware:
    """Whatever a signed-in user or an API client is shown (back-office pages, dashboards,
    exports, badges) carries personal or scoped data: ``Cache-Control: no-store, private`` so no
    browser cache or proxy keeps a copy on a shared commune computer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "Authorization" in request.headers:
            add_never_cache_headers(response)
        return response


# Every page drawn by the back-office theme (django-unfold) carries this on its <html> element.
UNFOLD_PAGE_MARKER = b'x-bind="themeBindings"'
# Unfold's pages run Alpine.js, which evaluates its x-data/x-on expressions with Function() and sets
# style attributes, and they hold <style> elements of their own (theme colours, htmx): without
# 'unsafe-eval' and 'unsafe-inline' for styles the back office does not work (its sign-in page
# stays covered by a modal). Scripts stay limited to our own files and nonced inline scripts.
# A nonce in style-src would make browsers ignore 'unsafe-inline', so styles drop it here.
BACK_OFFICE_CSP = {
    "script-src": [SELF, NONCE, UNSAFE_EVAL],
    "style-src": [SELF, UNSAFE_INLINE],
}


class BackOfficeCspMiddleware:
    """Relaxes the Content-Security-Policy for back-office pages only, recognised by the theme's
    own markup rather than by URL, so a back-office page added anywhere keeps working and public
    pages (badge checks, attendance, handbooks, dashboards) keep the strict policy. Must sit after
    csp.middleware.CSPMiddleware in MIDDLEWARE (it runs first on the way out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and UNFOLD_PAGE_MARKER in response.content
        ):
            response._csp_replace = BACK_OFFICE_CSP  # type: ignore[attr-defined]
        return response
