from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english(settings: Any) -> Any:
    """Messages are asserted in their English source form, which the Vietnamese catalogue does
    not reword; a test that looks at the Vietnamese page asks for it."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
