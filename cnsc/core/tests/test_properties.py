"""Properties of the identity and text helpers, over inputs hypothesis makes up: phone numbers,
CCCD numbers and names in every spelling, and arbitrary text. Whatever comes in, the answer is a
value or a ValidationError (never another exception, which would be a server error); the
normalised form normalises to itself; precomposed and decomposed Vietnamese give the same
answer; and the fast checkers the imports use answer exactly as the functions they stand for."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cnsc.core.bulk import CccdChecker, PhoneChecker, SearchKeys
from cnsc.core.identity import (
    CCCD_PROVINCE_CODES,
    cccd_protect,
    mask_phone,
    national_phone,
    normalize_phone,
    validate_cccd,
)
from cnsc.core.text import nfc, search_key

# Bounded: these run in every `make test`. No example database is written to the checkout.
bounded = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SEPARATORS = st.sampled_from(["", " ", ".", "-", "  ", "\u00a0", "\t"])
DIGITS = "0123456789"


@st.composite
def phone_like(draw: Any) -> str:
    """What people type for a phone number: a prefix, digits in groups, odd separators, now
    and then a letter, a full-width digit or a bracket."""
    prefix = draw(st.sampled_from(["0", "+84", "84", "(+84)", "+84 (0)", "0084", "+1", "", "00"]))
    digits = draw(st.text(alphabet=DIGITS, min_size=6, max_size=12))
    groups: list[str] = []
    while digits:
        cut = draw(st.integers(min_value=1, max_value=4))
        groups.append(digits[:cut])
        digits = digits[cut:]
    text = prefix + "".join(draw(SEPARATORS) + g for g in groups)
    if draw(st.booleans()):
        # Full-width or Arabic-Indic digits, a stray letter, surrounding spaces.
        text = draw(
            st.sampled_from(
                [
                    text.translate(str.maketrans(DIGITS, "０１２３４５６７８９")),
                    text.translate(str.maketrans(DIGITS, "٠١٢٣٤٥٦٧٨٩")),
                    text + "x",
                    f"  {text}  ",
                    text.replace("0", "O", 1),
                ]
            )
        )
    return text


MOBILE_PREFIXES = ["03", "05", "07", "08", "09", "02"]


@st.composite
def plausible_phone(draw: Any) -> str:
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    return prefix + draw(st.text(alphabet=DIGITS, min_size=8, max_size=9))


def outcome(function: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """("ok", value) or ("invalid", the error's code and messages); any other exception fails
    the test."""
    try:
        return "ok", function(*args, **kwargs)
    except ValidationError as exc:
        return "invalid", (exc.code, tuple(exc.messages))


# --- Phones ---------------------------------------------------------------------------------


@bounded
@given(st.one_of(phone_like(), plausible_phone(), st.text(max_size=40)))
@example("0912 345 678")
@example("+84 912 345 678")
@example("1900 1234")
@example("+1 650 253 0000")
@example("+86 138 0013 8000")
@example("")
@example("\x00")
@example("9" * 300)
def test_a_phone_normalises_to_e164_once_and_for_all(raw):
    status, value = outcome(normalize_phone, raw)
    if status == "ok":
        assert value.startswith("+84")
        assert value[1:].isascii()
        assert value[1:].isdigit()
        assert normalize_phone(value) == value
        national = national_phone(value)
        assert normalize_phone(national) == value
        masked = mask_phone(value)
        assert masked == national[:4] + "*" * (len(national) - 7) + national[-3:]


@bounded
@given(st.one_of(phone_like(), plausible_phone(), st.text(max_size=40)))
def test_the_fast_phone_checker_answers_as_normalize_phone(raw):
    assert outcome(PhoneChecker(), raw) == outcome(normalize_phone, raw)


# --- CCCD -----------------------------------------------------------------------------------


@st.composite
def cccd_like(draw: Any) -> str:
    province = draw(
        st.one_of(
            st.sampled_from(sorted(CCCD_PROVINCE_CODES)), st.text(DIGITS, min_size=3, max_size=3)
        )
    )
    century_sex = draw(st.sampled_from("0123456789"))
    rest = draw(st.text(alphabet=DIGITS, min_size=6, max_size=10))
    text = province + century_sex + rest
    separator = draw(SEPARATORS)
    if separator and len(text) > 6:
        text = text[:3] + separator + text[3:6] + separator + text[6:]
    return text


SEXES = st.sampled_from([None, "male", "female"])
YEARS = st.one_of(st.none(), st.integers(min_value=1890, max_value=2040))


@bounded
@given(st.one_of(cccd_like(), st.text(max_size=20)), SEXES, YEARS)
@example("079085012345", None, None)
@example("０７９０８５０１２３４５", None, None)
@example("079 0 85 012345", "male", 1985)
def test_a_cccd_validates_to_its_twelve_digits_once_and_for_all(raw, sex, year):
    status, value = outcome(validate_cccd, raw, sex=sex, birth_year=year)
    if status == "ok":
        assert len(value) == 12
        assert value.isascii()
        assert value.isdigit()
        assert validate_cccd(value, sex=sex, birth_year=year) == value
        protected = cccd_protect(raw, sex=sex, birth_year=year)
        assert protected.last4 == value[-4:]
        assert value not in protected.hash
    else:
        # The message never repeats the number it refuses.
        digits = "".join(ch for ch in raw if ch.isdigit())
        _code, messages = value
        assert len(digits) < 6 or digits not in " ".join(messages)


@bounded
@given(st.one_of(cccd_like(), st.text(max_size=20)), SEXES, YEARS)
def test_the_fast_cccd_checker_answers_as_cccd_protect(raw, sex, year):
    assert outcome(CccdChecker(), raw, sex=sex, birth_year=year) == outcome(
        cccd_protect, raw, sex=sex, birth_year=year
    )


# --- Names and other text -------------------------------------------------------------------

VIETNAMESE = "ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
NAME_CHARS = st.sampled_from(
    list(VIETNAMESE + VIETNAMESE.upper() + "abcdeghiklmnopqrstuvxy ABCDEGHIKLMNOPQRSTUVXY  ")
)


@st.composite
def vietnamese_name(draw: Any) -> str:
    return "".join(draw(st.lists(NAME_CHARS, min_size=1, max_size=30)))


TEXTS = st.one_of(vietnamese_name(), st.text(max_size=30))


@bounded
@given(TEXTS)
@example("Nguyễn Văn An")
@example("Thủ Dầu Một")
@example("\u0301a")  # a combining mark with nothing to combine with
@example("ǅ")
def test_names_normalise_once_and_for_all_whatever_their_unicode_form(name):
    nfd = unicodedata.normalize("NFD", name)
    assert nfc(nfd) == nfc(name)
    assert nfc(nfc(name)) == nfc(name)
    key = search_key(name)
    assert search_key(nfd) == key
    assert search_key(key) == key
    assert key == key.strip()
    assert "  " not in key
    assert key.isascii()


@bounded
@given(TEXTS)
@example("Nguyễn  Văn\u00a0An")
@example("a \u0301b")
@example("北京 Huế")
def test_the_word_by_word_search_keys_match_search_key(text):
    # The household import keys names word by word; the back office through search_key. A
    # difference would make the same person two people.
    assert SearchKeys()(text) == search_key(text)


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_the_same_name_in_either_form_has_one_key(form):
    assert search_key(unicodedata.normalize(form, "Nguyễn Thị Ánh Tuyết")) == "nguyen thi anh tuyet"
