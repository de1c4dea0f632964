"""The fast checkers give exactly the answers of the shared checks they stand in for."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

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
