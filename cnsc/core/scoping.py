"""Why a request was refused, for the access log: another unit's object answers 404 like a missing
one (the user learns nothing), but the log (cnsc.access.middleware) records which it was."""

from __future__ import annotations

from django.http import HttpRequest

OUT_OF_SCOPE = "out_of_scope"


def note_denial(request: HttpRequest, reason: str) -> None:
    request.cnsc_denied = reason  # type: ignore[attr-defined]
