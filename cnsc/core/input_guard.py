"""Refuses, with 400, a request whose address or query string holds a NUL byte.

No address means anything with one, and PostgreSQL refuses NUL in every text it compares or
stores: a lookup by a code or a search with one is a database error, which every view would
otherwise have to foresee (forms already refuse it field by field). The machine API under
/api/ checks its own parameters and answers in JSON, naming the one at fault."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse


class NulBytesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            raise BadRequest("NUL byte in the address")
        return self.get_response(request)
