from __future__ import annotations

import pytest

from cnsc.access.models import User
from cnsc.access.roles import Role
from cnsc.access.scope import scope_for
from cnsc.core.testing import make_user
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level

pytestmark = pytest.mark.django_db


def visible_communes(user: User) -> set[str]:
    return set(
        AdminUnit.objects.visible_to(user)
        .filter(hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE)
        .values_list("code", flat=True)
    )


def test_a_commune_official_sees_their_commune_and_the_former_units_in_it(official):
    assert visible_communes(official) == {"25747"}
    former = AdminUnit.objects.visible_to(official).filter(hierarchy=Hierarchy.FORMER)
    former_communes = set(former.filter(level=Level.COMMUNE).values_list("name", flat=True))
    assert "Phường Phú Cường" in former_communes
    # ... and the former district and province those came from, to group figures the old way.
    assert former.filter(level=Level.DISTRICT, name="Thành phố Thủ Dầu Một").exists()
    assert former.filter(level=Level.PROVINCE, code="74").exists()
    assert not former.filter(level=Level.PROVINCE, code="01").exists()


def test_province_staff_see_every_commune_of_their_province(province_staff):
    communes = visible_communes(province_staff)
    assert len(communes) == 168
    assert "25747" in communes
    assert "00004" not in communes


def test_a_user_with_no_unit_sees_nothing(unassigned, hamlet):
    assert not AdminUnit.objects.visible_to(unassigned).exists()
    assert not Hamlet.objects.visible_to(unassigned).exists()
    assert not User.objects.visible_to(unassigned).exists()


def test_inactive_and_anonymous_users_see_nothing(official, hamlet):
    from django.contrib.auth.models import AnonymousUser

    assert not Hamlet.objects.visible_to(AnonymousUser()).exists()
    official.is_active = False
    official.save()
    assert not scope_for(official).commune_ids().exists()


def test_a_superuser_sees_everything(superuser, hamlet, other_hamlet):
    assert Hamlet.objects.visible_to(superuser).count() == 2
    assert AdminUnit.objects.visible_to(superuser).count() == AdminUnit.objects.count()


def test_an_official_of_two_communes_sees_both(home_commune, other_commune, hamlet, other_hamlet):
    both = make_user("both", Role.COMMUNE_OFFICIAL, (home_commune, other_commune))
    assert set(Hamlet.objects.visible_to(both)) == {hamlet, other_hamlet}


def test_users_are_visible_only_when_every_assignment_is_in_scope(
    province_staff, official, outsider, home_commune, other_commune
):
    straddling = make_user("straddling", Role.COMMUNE_OFFICIAL, (home_commune, other_commune))
    seen = set(User.objects.visible_to(province_staff))
    assert official in seen
    assert province_staff in seen
    assert outsider not in seen
    assert straddling not in seen


def test_role_permissions_and_read_only(province_staff, province_reader, official):
    assert province_staff.has_perm("geo.add_hamlet")
    assert province_reader.has_perm("geo.view_hamlet")
    assert not province_reader.has_perm("geo.add_hamlet")
    assert not province_reader.has_perm("access.change_user")
    assert official.has_perm("geo.change_hamlet")
    assert not official.has_perm("access.view_user")
    assert not official.has_perm("geo.delete_hamlet")


def test_a_role_opens_the_back_office_and_no_role_does_not(db):
    assert make_user("with-role", Role.TEAM_LEADER).is_staff
    assert not make_user("no-role").is_staff
