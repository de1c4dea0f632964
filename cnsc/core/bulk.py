"""The shared checks of cnsc.core.identity and cnsc.core.text, fast enough for files of millions of
rows (a province's household list), giving exactly the same answers.

Each checker remembers verdicts by the part of the input that decides them and asks the real
function once per such part, so no rule is written twice:

- a Vietnamese phone number's validity and type depend only on its leading digits and its length
  (every pattern of the numbering plan in phonenumbers' metadata is a prefix of at most four
  digits followed by any digits; ``cnsc/core/tests/test_bulk.py`` proves it on the installed
  metadata, so an upgrade that breaks it fails there);
- a CCCD's validity depends only on its first six digits (province, century and sex, year of
  birth) and on the sex and year of birth it is checked against; the last six are random;
- a search key is made word by word (``search_key`` transliterates each character alone and
  collapses spaces), and names and addresses reuse few words.

The memories are bounded by the number of such parts (a few thousand in practice), never by the
number of rows. Anything unusual (letters, an ``84`` without ``+``, odd separators) goes to the
real function, row by row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator

from django.core.exceptions import ValidationError

from cnsc.core.codes import ALPHABET
from cnsc.core.identity import (
    HashedCccd,
    current_key_id,
    hash_keys,
    key_fingerprint,
    normalize_phone,
    validate_cccd,
)
from cnsc.core.text import search_key

_PHONE_SEPARATORS = str.maketrans("", "", " .-()")
# "0" or "+84", then a national number that does not start with 0 ("00" is the international
# prefix, which phonenumbers reads differently).
_PHONE_SHAPE = re.compile(r"(\+84|0)([1-9][0-9]{8,9})")
_PREFIX = 4
_CCCD_SHAPE = re.compile(r"[0-9]{12}")
_MAX_WORDS = 500_000


# Verdicts depend only on phonenumbers' metadata, so one memory serves the whole process: each
# import does not pay again for the prefixes the previous one met.
_PHONE_VERDICTS: dict[tuple[str, str, int], ValidationError | None] = {}


class PhoneChecker:
    """``normalize_phone`` for many rows: returns the E.164 form or raises its ValidationError."""

    def __init__(self) -> None:
        self._verdicts = _PHONE_VERDICTS

    def __call__(self, raw: str) -> str:
        match = _PHONE_SHAPE.fullmatch(raw.translate(_PHONE_SEPARATORS))
        if match is None:
            return normalize_phone(raw)
        form, national = match.groups()
        key = (form, national[:_PREFIX], len(national))
        if key not in self._verdicts:
            try:
                normalize_phone(raw)
            except ValidationError as exc:
                self._verdicts[key] = exc
            else:
                self._verdicts[key] = None
        error = self._verdicts[key]
        if error is not None:
            raise ValidationError(error.messages[0], code=error.code)
        return "+84" + national


class CccdChecker:
    """``cccd_protect`` for many rows: validates against sex and year of birth, hashes under the
    key chain, and returns what a model keeps (the digits go no further)."""

    def __init__(self) -> None:
        # One keyed state per key, copied for each digest: the key's padding is hashed once,
        # not once per number (same bytes as hmac.new(key, value, sha256)).
        self._keyed = [
            hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256) for key in hash_keys()
        ]
        self._ids = [key_fingerprint(key) for key in hash_keys()]
        self._current = current_key_id()
        self._verdicts: dict[tuple[str, str | None, int | None], ValidationError | None] = {}

    def _digits(self, raw: str, sex: str | None, birth_year: int | None) -> str:
        if _CCCD_SHAPE.fullmatch(raw) is None:
            return validate_cccd(raw, sex=sex, birth_year=birth_year)
        key = (raw[:6], sex, birth_year)
        if key not in self._verdicts:
            try:
                validate_cccd(raw, sex=sex, birth_year=birth_year)
            except ValidationError as exc:
                self._verdicts[key] = exc
            else:
                self._verdicts[key] = None
        error = self._verdicts[key]
        if error is not None:
            raise ValidationError(error.messages[0], code=error.code)
        return raw

    def __call__(self, raw: str, *, sex: str | None, birth_year: int | None) -> HashedCccd:
        digits = self._digits(raw, sex, birth_year)
        value = digits.encode("ascii")
        chain: list[str] = []
        for keyed in self._keyed:
            digest = keyed.copy()
            digest.update(value)
            step = digest.hexdigest()
            chain.append(step)
            value = step.encode("ascii")
        return HashedCccd(
            hash=chain[-1],
            last4=digits[-4:],
            key_id=self._current,
            matches=frozenset(chain),
        )


class SearchKeys:
    """``search_key`` for many rows, word by word with a bounded memory."""

    def __init__(self) -> None:
        self._words: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        words = self._words
        parts = []
        for word in text.split():
            key = words.get(word)
            if key is None:
                if len(words) >= _MAX_WORDS:
                    words.clear()
                key = words[word] = search_key(word)
            if key:
                parts.append(key)
        return " ".join(parts)


# Bytes 0-247 map evenly onto the 31 letters (248 = 8 × 31); the rest are dropped, so every
# letter is equally likely, as with secrets.choice.
_CODE_TABLE = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(248)) + bytes(8)
_CODE_DROP = bytes(range(248, 256))


def random_codes(length: int) -> Iterator[str]:
    """An endless supply of ``random_code(length)`` values, drawn from the OS's random source a
    few kilobytes at a time instead of a call per letter."""
    while True:
        letters = secrets.token_bytes(8192).translate(_CODE_TABLE, _CODE_DROP).decode("ascii")
        for start in range(0, len(letters) - length + 1, length):
            yield letters[start : start + length]
