"""The fast checkers give exactly the answers of the shared checks they stand in for."""

from __future__ import annotations

import hashlib
import hmac
import random
import re._constants as sre
import re._parser as sre_parse

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from cnsc.core import bulk
from cnsc.core.bulk import CccdChecker, PhoneChecker, SearchKeys, random_codes
from cnsc.core.codes import ALPHABET
from cnsc.core.identity import CCCD_PROVINCE_CODES, cccd_protect, normalize_phone
from cnsc.core.text import search_key


def verdict(check, *args, **kwargs):
    try:
        return ("ok", check(*args, **kwargs))
    except ValidationError as exc:
        return ("error", exc.code, exc.messages)


def test_phones_every_prefix_and_spelling_as_normalize_phone():
    rng = random.Random(7)
    checker = PhoneChecker()
    numbers = []
    for prefix in range(10, 100):
        for length in (9, 10):
            for _ in range(3):
                tail = "".join(rng.choice("0123456789") for _ in range(length - 2))
                national = f"{prefix}{tail}"
                numbers += [f"0{national}", f"+84{national}", f"0{national[:3]} {national[3:]}"]
    numbers += ["84912345678", "0912-345-678", "(091) 234 5678", "00912345678", "1900 1234"]
    numbers += ["", "abc", "+1 202 555 0100", "0912.345.678", "0912345678 ext 3", "٠٩١٢٣٤٥٦٧٨"]
    for number in numbers:
        assert verdict(checker, number) == verdict(normalize_phone, number), number


_DIGITS = frozenset("0123456789")


def _spellings(node) -> list[list[frozenset[str]]]:
    """Every fixed-length spelling of a parsed pattern, as the set of digits allowed at each
    position; fails on anything the numbering plan is not expected to use."""
    spellings: list[list[frozenset[str]]] = [[]]
    for op, arg in node:
        if op is sre.LITERAL:
            options = [[frozenset(chr(arg))]]
        elif op is sre.IN:
            allowed: set[str] = set()
            for kind, value in arg:
                if kind is sre.LITERAL:
                    allowed.add(chr(value))
                elif kind is sre.RANGE:
                    allowed.update(chr(c) for c in range(value[0], value[1] + 1))
                elif kind is sre.CATEGORY and value is sre.CATEGORY_DIGIT:
                    allowed |= _DIGITS
                else:
                    raise AssertionError(f"unexpected {kind} in a phone pattern")
            options = [[frozenset(allowed)]]
        elif op is sre.SUBPATTERN:
            options = _spellings(arg[-1])
        elif op is sre.BRANCH:
            options = [s for branch in arg[1] for s in _spellings(branch)]
        elif op is sre.MAX_REPEAT:
            low, high, inner = arg
            assert high is not sre.MAXREPEAT
            once = _spellings(inner)
            options = []
            for count in range(low, high + 1):
                repeated: list[list[frozenset[str]]] = [[]]
                for _ in range(count):
                    repeated = [a + b for a in repeated for b in once]
                options += repeated
        else:
            raise AssertionError(f"unexpected {op} in a phone pattern")
        spellings = [a + b for a in spellings for b in options]
    return spellings


def test_phone_verdicts_depend_on_prefix_and_length_only_in_the_installed_metadata():
    """The proof behind PhoneChecker's memory: in Việt Nam's metadata every pattern, spelled
    out, allows any digit after its first ``bulk._PREFIX`` positions, so a number's validity
    and type are decided by those digits and its length. An upgrade of phonenumbers that adds
    a longer prefix fails here."""
    assert phonenumbers.COUNTRY_CODE_TO_REGION_CODE[84] == ("VN",)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("VN")
    # Parsing strips a national "0" and nothing else, whatever follows it.
    assert metadata.national_prefix_for_parsing == "0"
    assert metadata.national_prefix_transform_rule is None
    assert metadata.leading_digits is None
    patterns = [
        desc.national_number_pattern
        for desc in vars(metadata).values()
        if isinstance(desc, phonenumbers.PhoneNumberDesc) and desc.national_number_pattern
    ]
    assert len(patterns) >= 3  # general, fixed line, mobile at least
    for pattern in patterns:
        for spelling in _spellings(sre_parse.parse(pattern)):
            assert all(allowed == _DIGITS for allowed in spelling[bulk._PREFIX :]), pattern


def test_phones_every_four_digit_prefix_remembered_as_normalize_phone():
    """Two numbers per prefix and length: the second is answered from the first's verdict."""
    rng = random.Random(5)
    checker = PhoneChecker()
    for prefix in range(1000, 10000):
        for length in (9, 10):
            for form in ("0", "+84"):
                for _ in range(2):
                    tail = "".join(rng.choice("0123456789") for _ in range(length - 4))
                    number = f"{form}{prefix}{tail}"
                    assert verdict(checker, number) == verdict(normalize_phone, number), number


def test_cccds_as_cccd_protect_with_sex_and_year():
    rng = random.Random(11)
    checker = CccdChecker()
    cases = []
    for province in [*sorted(CCCD_PROVINCE_CODES)[:20], "000", "999"]:
        for century in "01234":
            for year in ("85", "99", "05", "30"):
                digits = f"{province}{century}{year}{rng.randrange(10**6):06d}"
                for sex in (None, "male", "female"):
                    for birth_year in (None, 1985, 2005, 1999):
                        cases.append((digits, sex, birth_year))
    cases += [
        ("079 0 85 012345", None, None),
        ("0790850123", None, None),
        ("07908501234x", None, None),
    ]
    for digits, sex, birth_year in cases:
        fast = verdict(checker, digits, sex=sex, birth_year=birth_year)
        slow = verdict(cccd_protect, digits, sex=sex, birth_year=birth_year)
        assert fast == slow, (digits, sex, birth_year)


@override_settings(CCCD_HASH_KEY="k" * 40, CCCD_HASH_PREVIOUS_KEYS=["a" * 40, "b" * 40])
def test_cccd_hashes_follow_the_key_chain():
    digits = "074085012345"
    assert CccdChecker()(digits, sex="male", birth_year=1985) == cccd_protect(digits)


@override_settings(CCCD_HASH_KEY="k" * 40, CCCD_HASH_PREVIOUS_KEYS=["a" * 40, "ạ b"])
def test_cccd_hashes_byte_for_byte_as_plain_hmac():
    """The checker's copied keyed states give the digests of hmac.new, number after number."""
    rng = random.Random(3)
    checker = CccdChecker()
    for _ in range(200):
        digits = f"074{rng.choice('01')}{rng.randrange(100):02d}{rng.randrange(10**6):06d}"
        chain, value = [], digits.encode("ascii")
        for key in ("a" * 40, "ạ b", "k" * 40):
            value = hmac.new(key.encode("utf-8"), value, hashlib.sha256).hexdigest().encode()
            chain.append(value.decode())
        hashed = checker(digits, sex=None, birth_year=None)
        assert hashed.hash == chain[-1]
        assert hashed.matches == frozenset(chain)


@pytest.mark.parametrize(
    "text",
    [
        "Nguyễn Văn Hùng",
        "  Trần   thị  BÍCH ",
        "Hẻm 5/12A  Đường Yersin",
        "Đ\u0301",  # a stray combining mark
        "Nguyê\u0303n",  # decomposed
        "Số ½ đường\tXuân\nThủy",
        "",
        "   ",
        "ĐẶNG—Thị Ngọc",
    ],
)
def test_search_keys_as_search_key(text):
    assert SearchKeys()(text) == search_key(text)


def test_random_codes_use_the_alphabet_evenly():
    codes = random_codes(10)
    drawn = [next(codes) for _ in range(5000)]
    assert all(len(code) == 10 and set(code) <= set(ALPHABET) for code in drawn)
    assert len(set(drawn)) == len(drawn)
    counts = dict.fromkeys(ALPHABET, 0)
    for code in drawn:
        for letter in code:
            counts[letter] += 1
    expected = 50_000 / len(ALPHABET)
    assert all(abs(n - expected) < expected * 0.15 for n in counts.values())
