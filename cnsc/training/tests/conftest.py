from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _source_language() -> Iterator[None]:
    """Messages are asserted as written in the code (English), whatever the catalogue holds;
    printed documents choose their own language."""
    with translation.override("en"):
        yield
