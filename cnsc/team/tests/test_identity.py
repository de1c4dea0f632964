"""Phone numbers and citizen identity numbers: what is accepted, what is refused, what is kept."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

from cnsc.core.identity import (
    CCCD_PROVINCE_CODES,
    cccd_hash,
    cccd_last4,
    cccd_protect,
    current_key_id,
    key_fingerprint,
    mask_phone,
    normalize_phone,
    try_normalize_phone,
    validate_cccd,
)
from cnsc.geo.models import AdminUnit, Hierarchy, Level
from cnsc.team.models import Member
from cnsc.team.tests.factories import CCCD_MAN_1985, CCCD_WOMAN_2001, make_member


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted on their English source text; the Vietnamese catalogue changes."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    "raw",
    [
        "0912 345 678",
        "+84912345678",
        "84-912-345-678",
        "0912.345.678",
        "+84 (0) 912 345 678",
        "0084 912 345 678",
        " 0912345678 ",
    ],
)
def test_every_spelling_of_a_mobile_number_is_one_number(raw):
    assert normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0372 345 678", "+84372345678"),  # 03x, the Viettel range moved in 2018
        ("0592 345 678", "+84592345678"),
        ("0862 345 678", "+84862345678"),
        ("028 3823 4567", "+842838234567"),  # Hồ Chí Minh City landline
        ("024 3825 6789", "+842438256789"),  # Hà Nội landline
        ("0274 3822 123", "+842743822123"),  # Bình Dương landline
    ],
)
def test_vietnamese_mobiles_and_landlines_are_accepted(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("+1 650 253 0000", "Only Vietnamese"),
        ("+66 81 234 5678", "Only Vietnamese"),
        ("+86 138 0013 8000", "Only Vietnamese"),
        ("abc", "not a phone number"),
        ("", "Enter a phone number"),
        ("0912", "not a valid Vietnamese"),
        ("0123456789", "not a valid Vietnamese"),  # 01x mobiles were renumbered in 2018
        ("09123456789012", "not a valid Vietnamese"),
        ("1800 1091", "Toll-free"),
        ("1900 1234", "Toll-free"),
    ],
)
def test_foreign_numbers_and_garbage_are_refused_with_a_clear_message(raw, fragment):
    with pytest.raises(ValidationError) as error:
        normalize_phone(raw)
    assert fragment in error.value.messages[0]
    assert try_normalize_phone(raw) is None


def test_masking_keeps_the_ends_of_a_number():
    assert mask_phone("+84912345678") == "0912***678"
    assert mask_phone("+842838234567") == "0283****567"
    assert mask_phone("") == ""


def test_a_valid_cccd_is_returned_as_its_digits():
    assert validate_cccd("074 0 85 012345") == CCCD_MAN_1985
    assert validate_cccd(CCCD_MAN_1985, sex="male", birth_year=1985) == CCCD_MAN_1985
    assert validate_cccd(CCCD_WOMAN_2001, sex="female", birth_year=2001) == CCCD_WOMAN_2001


@pytest.mark.parametrize(
    ("raw", "kwargs", "fragment"),
    [
        ("07408501234", {}, "exactly 12 digits"),
        ("0740850123456", {}, "exactly 12 digits"),
        ("07408501234A", {}, "exactly 12 digits"),
        ("١٢٣٤٥٦٧٨٩٠١٢", {}, "exactly 12 digits"),  # non-ASCII digits
        ("003085012345", {}, "code of a province"),  # 003 was never a province code
        ("099085012345", {}, "code of a province"),
        ("074485012345", {}, "fourth digit"),  # 22nd century
        ("074999012345", {}, "fourth digit"),
        ("074299012345", {}, "future"),  # born 2099
        (CCCD_MAN_1985, {"sex": "female"}, "sex"),
        (CCCD_WOMAN_2001, {"sex": "male"}, "sex"),
        (CCCD_MAN_1985, {"birth_year": 1986}, "year of birth"),
        (CCCD_WOMAN_2001, {"birth_year": 1901}, "year of birth"),
    ],
)
def test_an_invalid_cccd_is_refused_without_repeating_it(raw, kwargs, fragment):
    with pytest.raises(ValidationError) as error:
        validate_cccd(raw, **kwargs)
    message = error.value.messages[0]
    assert fragment in message
    assert raw not in message
    assert raw[-6:] not in message


@pytest.mark.django_db
def test_the_province_codes_are_the_former_provinces():
    former = AdminUnit.objects.filter(hierarchy=Hierarchy.FORMER, level=Level.PROVINCE)
    assert {"0" + code for code in former.values_list("code", flat=True)} == CCCD_PROVINCE_CODES
    assert len(CCCD_PROVINCE_CODES) == 63


def test_the_hash_is_keyed_and_keeps_only_the_last_four():
    protected = cccd_protect(CCCD_MAN_1985)
    assert protected.last4 == cccd_last4(CCCD_MAN_1985) == "2345"
    assert len(protected.hash) == 64
    assert CCCD_MAN_1985 not in protected.hash
    assert protected.hash == cccd_hash(CCCD_MAN_1985)
    with override_settings(CCCD_HASH_KEY="another-key-" + "z" * 30):
        assert cccd_hash(CCCD_MAN_1985) != protected.hash
        assert current_key_id() != protected.key_id


OLD_KEY = "old-cccd-key-" + "a" * 30
NEW_KEY = "new-cccd-key-" + "b" * 30


@pytest.mark.django_db
def test_rekey_moves_hashes_to_the_new_key_once_and_matching_still_works(home_commune, capsys):
    with override_settings(CCCD_HASH_KEY=OLD_KEY, CCCD_HASH_PREVIOUS_KEYS=[]):
        member = make_member(home_commune, cccd=CCCD_MAN_1985)
        plain = make_member(home_commune, full_name="Trần Thị Bình", sex="female")
    old_hash = member.cccd_hash
    assert member.cccd_key_id == key_fingerprint(OLD_KEY)

    with override_settings(CCCD_HASH_KEY=NEW_KEY, CCCD_HASH_PREVIOUS_KEYS=[]):
        call_command("rekey_cccd", old_key=OLD_KEY)
    member.refresh_from_db()
    assert member.cccd_hash != old_hash
    assert member.cccd_key_id == key_fingerprint(NEW_KEY)
    after_first = member.cccd_hash
    plain.refresh_from_db()
    assert plain.cccd_hash == ""

    with override_settings(CCCD_HASH_KEY=NEW_KEY, CCCD_HASH_PREVIOUS_KEYS=[]):
        call_command("rekey_cccd", old_key=OLD_KEY)
    member.refresh_from_db()
    assert member.cccd_hash == after_first
    assert "0 re-keyed" in capsys.readouterr().out.splitlines()[-2]

    # With the old key appended to the previous keys, a number typed today finds the member.
    with override_settings(CCCD_HASH_KEY=NEW_KEY, CCCD_HASH_PREVIOUS_KEYS=[OLD_KEY]):
        assert cccd_hash(CCCD_MAN_1985) == member.cccd_hash
        assert Member.objects.filter(cccd_hash=cccd_hash(CCCD_MAN_1985)).get() == member
        with pytest.raises(ValidationError, match="CCCD is already on a roster"):
            make_member(home_commune, cccd=CCCD_MAN_1985)


@pytest.mark.django_db
def test_a_row_not_yet_rekeyed_is_still_found(home_commune):
    with override_settings(CCCD_HASH_KEY=OLD_KEY, CCCD_HASH_PREVIOUS_KEYS=[]):
        make_member(home_commune, cccd=CCCD_MAN_1985)
    with (
        override_settings(CCCD_HASH_KEY=NEW_KEY, CCCD_HASH_PREVIOUS_KEYS=[OLD_KEY]),
        pytest.raises(ValidationError, match="CCCD is already on a roster"),
    ):
        make_member(home_commune, cccd=CCCD_MAN_1985)


def test_rekey_refuses_the_current_key():
    from django.core.management import CommandError

    with override_settings(CCCD_HASH_KEY=NEW_KEY), pytest.raises(CommandError):
        call_command("rekey_cccd", old_key=NEW_KEY)


@pytest.mark.django_db
def test_rekey_works_batch_by_batch_and_moves_every_row(home_commune, monkeypatch):
    from cnsc.core.management.commands import rekey_cccd

    monkeypatch.setattr(rekey_cccd, "BATCH", 2)
    numbers = [f"074085{n:06d}" for n in (11111, 22222, 33333)]  # men born in 1985
    with override_settings(CCCD_HASH_KEY=OLD_KEY, CCCD_HASH_PREVIOUS_KEYS=[]):
        members = [
            make_member(home_commune, full_name=f"Người {n}", cccd=cccd)
            for n, cccd in enumerate(numbers)
        ]
    with override_settings(CCCD_HASH_KEY=NEW_KEY, CCCD_HASH_PREVIOUS_KEYS=[OLD_KEY]):
        call_command("rekey_cccd", old_key=OLD_KEY)
        for member, cccd in zip(members, numbers, strict=True):
            member.refresh_from_db()
            assert member.cccd_key_id == key_fingerprint(NEW_KEY)
            assert member.cccd_hash == cccd_hash(cccd)
