"""The shared test base: real units, and users in every role including an outsider who must see
nothing of the commune under test.

The commune under test is Phường Thủ Dầu Một (25747, Hồ Chí Minh City since 1 July 2025, formerly
part of Bình Dương); the outsider works in Phường Ba Đình (00004, Hà Nội).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from cnsc.access.models import UnitAssignment, User
from cnsc.access.roles import Role
from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level

PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105 (test accounts only)
HOME_PROVINCE = "79"
HOME_COMMUNE = "25747"
NEIGHBOUR_COMMUNE = "25750"  # Phường Phú Lợi, same province
OTHER_PROVINCE = "01"
OTHER_COMMUNE = "00004"


def unit(code: str, level: str = Level.COMMUNE, hierarchy: str = Hierarchy.CURRENT) -> AdminUnit:
    return AdminUnit.objects.get(hierarchy=hierarchy, level=level, code=code)


def make_user(
    username: str, role: str = "", units: tuple[AdminUnit, ...] = (), **extra: Any
) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, role=role, **extra)
    for u in units:
        UnitAssignment.objects.create(user=user, unit=u)
    return user


def client_for(user: User) -> Client:
    """A client signed in as ``user``, past the second factor when the user needs one."""
    client = Client()
    client.force_login(user)
    from cnsc.access.twofactor import second_factor_needed

    if second_factor_needed(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture(autouse=True, scope="session")
def _second_factor_as_in_production() -> Iterator[None]:
    """The suite runs with two-factor sign-in required of province staff and superusers, as in
    production (client_for gets them past it); commune officials follow the development default
    (off) unless a test turns OTP_REQUIRED_FOR_COMMUNE_OFFICIALS on."""
    with override_settings(OTP_REQUIRED=True):
        yield


@pytest.fixture
def home_commune(db: Any) -> AdminUnit:
    return unit(HOME_COMMUNE)


@pytest.fixture
def neighbour_commune(db: Any) -> AdminUnit:
    return unit(NEIGHBOUR_COMMUNE)


@pytest.fixture
def other_commune(db: Any) -> AdminUnit:
    return unit(OTHER_COMMUNE)


@pytest.fixture
def home_province(db: Any) -> AdminUnit:
    return unit(HOME_PROVINCE, Level.PROVINCE)


@pytest.fixture
def official(home_commune: AdminUnit) -> User:
    """A commune official of the commune under test."""
    return make_user("official", Role.COMMUNE_OFFICIAL, (home_commune,))


@pytest.fixture
def outsider(other_commune: AdminUnit) -> User:
    """A commune official of another province's commune: must see nothing of ours."""
    return make_user("outsider", Role.COMMUNE_OFFICIAL, (other_commune,))


@pytest.fixture
def province_staff(home_province: AdminUnit) -> User:
    return make_user("province", Role.PROVINCE_STAFF, (home_province,))


@pytest.fixture
def province_reader(home_province: AdminUnit) -> User:
    return make_user("reader", Role.PROVINCE_STAFF, (home_province,), read_only=True)


@pytest.fixture
def unassigned(db: Any) -> User:
    """Has a role but no unit: sees nothing."""
    return make_user("unassigned", Role.COMMUNE_OFFICIAL)


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser(username="root", password=PASSWORD)


@pytest.fixture
def client_of() -> Callable[[User], Client]:
    return client_for


@pytest.fixture
def hamlet(home_commune: AdminUnit) -> Hamlet:
    return Hamlet.objects.create(commune=home_commune, name="Khu phố 1", kind=HamletKind.QUARTER)


@pytest.fixture
def other_hamlet(other_commune: AdminUnit) -> Hamlet:
    return Hamlet.objects.create(
        commune=other_commune, name="Tổ dân phố 5", kind=HamletKind.RESIDENTIAL_GROUP
    )
