"""Text helpers shared by every app: Unicode normalisation and diacritic-free search keys."""

from __future__ import annotations

import re
import unicodedata

from unidecode import unidecode

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Vietnamese text arrives both precomposed and decomposed; store one form (NFC)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def search_key(text: str) -> str:
    """Lower-case ASCII form used for searching without diacritics.

    "Thủ Dầu Một" and "thu dau mot" share the key "thu dau mot"; "Đ" becomes "d".
    """
    return _SPACES.sub(" ", unidecode(nfc(text)).lower()).strip()
