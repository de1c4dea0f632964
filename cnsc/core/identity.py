"""Personal identifiers shared by members and residents: phone numbers and citizen identity
numbers (CCCD).

Phones: any valid Vietnamese number, mobile or landline, in any usual spelling ("0912 345 678",
"+84912345678", "84-912-345-678") is stored as E.164. Foreign numbers, toll-free and premium
numbers (1800/1900: a service, not a person) and anything that is not a number are refused.

CCCD: never stored, logged, exported or shown back. What is kept is a keyed hash for matching
and the last four digits for display. Error messages never repeat the number.

Key rotation: a keyed hash cannot be recomputed without the plaintext, which we do not have, so
a new key is laid over the old hash instead of replacing it::

    stored = HMAC(K_current, HMAC(K_previous, ... HMAC(K_first, cccd)))

``CCCD_HASH_PREVIOUS_KEYS`` lists the earlier keys, oldest first; every hashed row records the
fingerprint of the key its hash ends with, and ``manage.py rekey_cccd --old-key OLD`` moves the
rows still ending with OLD one step forward.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# --- Phones ---------------------------------------------------------------------------------

PHONE_REGION = "VN"
_PERSONAL_NUMBER_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def normalize_phone(raw: str) -> str:
    """The E.164 form of a Vietnamese mobile or landline number; ValidationError otherwise."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="phone_empty")
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("This is not a phone number. Write it like 0912 345 678."), code="phone_invalid"
        ) from None
    if phonenumbers.region_code_for_number(number) != PHONE_REGION:
        raise ValidationError(
            _("Only Vietnamese phone numbers are accepted (+84)."), code="phone_foreign"
        )
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "This is not a valid Vietnamese phone number: a mobile number has 10 digits "
                "and starts with 03, 05, 07, 08 or 09."
            ),
            code="phone_invalid",
        )
    if phonenumbers.number_type(number) not in _PERSONAL_NUMBER_TYPES:
        raise ValidationError(
            _("Toll-free and premium-rate numbers (1800, 1900) are not personal numbers."),
            code="phone_service",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize_phone(raw: str) -> str | None:
    """``normalize_phone`` or None: for search boxes, where a name is as likely as a number."""
    try:
        return normalize_phone(raw)
    except ValidationError:
        return None


def national_phone(e164: str) -> str:
    """ "+84912345678" -> "0912345678"."""
    if e164.startswith("+84"):
        return "0" + e164[3:]
    return e164


def mask_phone(e164: str) -> str:
    """ "+84912345678" -> "0912***678": enough to recognise a number, not to call it."""
    if not e164:
        return ""
    national = national_phone(e164)
    if len(national) <= 7:
        return "*" * len(national)
    return national[:4] + "*" * (len(national) - 7) + national[-3:]


# --- CCCD -----------------------------------------------------------------------------------

# Province-of-birth-registration codes (Circular 07/2016/TT-BCA): "0" followed by the two-digit
# code of one of the 63 provinces that existed until 30 June 2025 (the former provinces in
# cnsc.geo). Numbers keep these codes after the 2025 merger; a test checks the list against the
# loaded units.
CCCD_PROVINCE_CODES = frozenset(
    {
        "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019",
        "020", "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036",
        "037", "038", "040", "042", "044", "045", "046", "048", "049", "051", "052", "054",
        "056", "058", "060", "062", "064", "066", "067", "068", "070", "072", "074", "075",
        "077", "079", "080", "082", "083", "084", "086", "087", "089", "091", "092", "093",
        "094", "095", "096",
    }
)  # fmt: skip


class Sex(models.TextChoices):
    MALE = "male", gettext_lazy("Male")
    FEMALE = "female", gettext_lazy("Female")


# Fourth digit: century and sex. 4-9 stand for the 22nd century and later: nobody alive yet.
_CENTURY_SEX = {
    "0": (1900, Sex.MALE),
    "1": (1900, Sex.FEMALE),
    "2": (2000, Sex.MALE),
    "3": (2000, Sex.FEMALE),
}


def _digits(raw: str) -> str:
    # People write the number in groups ("079 2 85 012345") and paste it with stray spaces.
    return "".join(ch for ch in (raw or "") if not ch.isspace() and ch not in "-.")


def validate_cccd(raw: str, *, sex: str | None = None, birth_year: int | None = None) -> str:
    """The 12 digits of a valid CCCD, checked against ``sex`` and ``birth_year`` when given.

    Raises ValidationError; the message never contains the number itself.
    """
    digits = _digits(raw)
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        raise ValidationError(
            _("A citizen identity number (CCCD) has exactly 12 digits."), code="cccd_length"
        )
    if digits[:3] not in CCCD_PROVINCE_CODES:
        raise ValidationError(
            _(
                "The first three digits of the CCCD must be the code of a province "
                "(for example 001 for Hà Nội, 074 for Bình Dương)."
            ),
            code="cccd_province",
        )
    if digits[3] not in _CENTURY_SEX:
        raise ValidationError(
            _(
                "The fourth digit of the CCCD (century and sex) must be 0 or 1 for people born "
                "in the 1900s, 2 or 3 for people born from 2000."
            ),
            code="cccd_century",
        )
    century, cccd_sex = _CENTURY_SEX[digits[3]]
    year = century + int(digits[4:6])
    if year > timezone.localdate().year:
        raise ValidationError(
            _("The CCCD gives a year of birth in the future."), code="cccd_future"
        )
    if sex and sex != cccd_sex:
        raise ValidationError(
            _("The CCCD does not match the sex given (its fourth digit encodes the sex)."),
            code="cccd_sex",
        )
    if birth_year is not None and birth_year != year:
        raise ValidationError(
            _("The CCCD does not match the year of birth given (digits 4 to 6 encode it)."),
            code="cccd_year",
        )
    return digits


def cccd_last4(digits: str) -> str:
    return digits[-4:]


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8")


def key_fingerprint(key: str) -> str:
    """A short id of a key, stored beside each hash; says which key a hash ends with without
    revealing the key."""
    return hmac.new(_key_bytes(key), b"cnsc-cccd-key-id", hashlib.sha256).hexdigest()[:8]


def _hmac(key: str, message: str) -> str:
    return hmac.new(_key_bytes(key), message.encode("ascii"), hashlib.sha256).hexdigest()


def hash_keys() -> list[str]:
    """Every key of the chain, oldest first, the current one last."""
    previous = list(getattr(settings, "CCCD_HASH_PREVIOUS_KEYS", []))
    return [*previous, settings.CCCD_HASH_KEY]


def current_key_id() -> str:
    return key_fingerprint(settings.CCCD_HASH_KEY)


def cccd_hashes(digits: str) -> dict[str, str]:
    """The hash of ``digits`` at every step of the key chain, by key id. A row not yet moved to
    the current key still matches through its own step."""
    result: dict[str, str] = {}
    value = digits
    for key in hash_keys():
        value = _hmac(key, value)
        result[key_fingerprint(key)] = value
    return result


def cccd_hash(digits: str) -> str:
    """The stored hash of a validated CCCD under the current key chain."""
    return cccd_hashes(digits)[current_key_id()]


def rehash(stored: str, *, key: str) -> str:
    """One step forward along the chain: what ``rekey_cccd`` does to a stored hash."""
    return _hmac(key, stored)


@dataclass(frozen=True)
class HashedCccd:
    """What a model keeps of a CCCD (``hash``, ``last4``, ``key_id``), and every hash under
    which the same number may already be stored (``matches``: one per step of the key chain)."""

    hash: str
    last4: str
    key_id: str
    matches: frozenset[str]


def cccd_protect(raw: str, *, sex: str | None = None, birth_year: int | None = None) -> HashedCccd:
    """Validate and hash in one step, so the digits go no further than this function."""
    digits = validate_cccd(raw, sex=sex, birth_year=birth_year)
    chain = cccd_hashes(digits)
    return HashedCccd(
        hash=chain[current_key_id()],
        last4=cccd_last4(digits),
        key_id=current_key_id(),
        matches=frozenset(chain.values()),
    )


# --- Models holding a CCCD hash -------------------------------------------------------------


@dataclass(frozen=True)
class CccdHolder:
    model: Any
    hash_field: str
    key_field: str


CCCD_HOLDERS: list[CccdHolder] = []


def register_cccd_holder(model: Any, *, hash_field: str, key_field: str) -> None:
    """Declare a model holding CCCD hashes, so ``rekey_cccd`` re-keys it too. Call from the
    app's ``AppConfig.ready``."""
    holder = CccdHolder(model=model, hash_field=hash_field, key_field=key_field)
    if holder not in CCCD_HOLDERS:
        CCCD_HOLDERS.append(holder)
