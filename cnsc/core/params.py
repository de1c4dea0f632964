"""Values read from query strings, which anyone can type: turned into what a query takes, or
refused, before they reach the database (a text where a number belongs, or a number no column
holds, is a database error, and a server error to the user)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters

MAX_ID = 2**63 - 1


def as_id(value: Any) -> int | None:
    """A primary key written as text ("42"), or None for anything else: other digits ("²",
    "٤٢"), signs, spaces, or a number no bigint holds."""
    text = str(value if value is not None else "")
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def filter_id(value: Any) -> int:
    """An admin list filter's value as an id; a typed-in value that is none makes the admin say
    the filter is wrong (IncorrectLookupParameters) instead of failing."""
    number = as_id(value)
    if number is None:
        raise IncorrectLookupParameters(value)
    return number
