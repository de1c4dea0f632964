"""Back-office pages for units, hamlets and users: scoped rows, 404 for outsiders, 403 for
read-only users on writes, empty lists for users without a unit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cnsc.access.models import UnitAssignment, User
from cnsc.access.roles import Role
from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level

pytestmark = pytest.mark.django_db


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_the_admin_speaks_vietnamese(client, official):
    response = client.get(reverse("admin:login"))
    assert "Đăng nhập" in response.content.decode()
    client.force_login(official)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Đơn vị hành chính" in page


def test_login_with_password_reaches_the_index(client, official):
    from cnsc.core.testing import PASSWORD

    response = client.post(
        reverse("admin:login"), {"username": "official", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.wsgi_request.user == official


@pytest.mark.parametrize("model", [AdminUnit, Hamlet])
def test_an_outsider_gets_404_for_our_rows(client_of, outsider, hamlet, model):
    obj = hamlet if model is Hamlet else hamlet.commune
    client = client_of(outsider)
    assert client.get(change_url(obj)).status_code == 404
    history = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])
    assert client.get(history).status_code == 404
    version = obj.history.first()
    if version is not None:
        old = reverse(
            f"admin:{obj._meta.app_label}_{obj._meta.model_name}_simple_history",
            args=[obj.pk, version.history_id],
        )
        assert client.get(old).status_code == 404


def test_an_outsider_gets_404_for_our_users(client_of, outsider, official):
    outsider.role = Role.PROVINCE_STAFF  # even with the right to manage users
    outsider.save()
    assert client_of(outsider).get(change_url(official)).status_code == 404


@pytest.mark.parametrize("model", [AdminUnit, Hamlet])
def test_lists_are_scoped(client_of, official, hamlet, other_hamlet, model):
    page = client_of(official).get(changelist(model) + "?q=").content.decode()
    if model is Hamlet:
        assert hamlet.name in page
        assert other_hamlet.name not in page
    else:
        assert "Phường Thủ Dầu Một" in page
        assert "Phường Ba Đình" not in page


@pytest.mark.parametrize("model", [AdminUnit, Hamlet])
def test_a_user_without_a_unit_sees_an_empty_list(client_of, unassigned, hamlet, model):
    response = client_of(unassigned).get(changelist(model))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_search_without_diacritics(client_of, province_staff):
    response = client_of(province_staff).get(changelist(AdminUnit) + "?q=thu+dau+mot")
    names = {u.name for u in response.context["cl"].result_list}
    assert "Phường Thủ Dầu Một" in names
    assert "Thành phố Thủ Dầu Một" in names  # the former city, mapped into the province


def test_province_filter_lists_only_visible_provinces(client_of, official):
    response = client_of(official).get(changelist(AdminUnit))
    page = response.content.decode()
    assert "Tỉnh Bình Dương" in page  # former province of the commune
    assert "Tỉnh Cao Bằng" not in page


def test_an_official_creates_a_hamlet_in_their_commune_only(client_of, official, other_commune):
    client = client_of(official)
    home = official.assignments.get().unit
    former = AdminUnit.objects.get(hierarchy=Hierarchy.FORMER, level=Level.COMMUNE, code="25747")
    data = {
        "name": "Khu phố 7",
        "kind": HamletKind.QUARTER,
        "commune": home.pk,
        "former_commune": former.pk,
        "created_on": "2025-08-01",
    }
    response = client.post(reverse("admin:geo_hamlet_add"), data)
    assert response.status_code == 302, response.context["adminform"].errors
    hamlet = Hamlet.objects.get(name="Khu phố 7")
    assert hamlet.former_commune == former
    assert hamlet.history.first().history_user == official

    data["name"] = "Khu phố lạ"
    data["commune"] = other_commune.pk
    response = client.post(reverse("admin:geo_hamlet_add"), data)
    assert response.status_code == 200
    assert not Hamlet.objects.filter(name="Khu phố lạ").exists()


def test_a_former_commune_must_have_gone_into_the_hamlets_commune(client_of, official):
    client = client_of(official)
    home = official.assignments.get().unit
    elsewhere = AdminUnit.objects.get(hierarchy=Hierarchy.FORMER, level=Level.COMMUNE, code="00004")
    response = client.post(
        reverse("admin:geo_hamlet_add"),
        {
            "name": "Khu phố 8",
            "kind": HamletKind.QUARTER,
            "commune": home.pk,
            "former_commune": elsewhere.pk,
            "created_on": "2025-08-01",
        },
    )
    assert response.status_code == 200
    assert not Hamlet.objects.filter(name="Khu phố 8").exists()


def test_read_only_staff_cannot_write(client_of, province_reader, hamlet):
    client = client_of(province_reader)
    assert client.get(change_url(hamlet)).status_code == 200  # may look
    assert client.get(reverse("admin:geo_hamlet_add")).status_code == 403
    response = client.post(
        change_url(hamlet), {"name": "Đổi tên", "kind": hamlet.kind, "commune": hamlet.commune_id}
    )
    assert response.status_code == 403
    hamlet.refresh_from_db()
    assert hamlet.name == "Khu phố 1"


def test_a_commune_official_cannot_manage_users(client_of, official):
    assert client_of(official).get(changelist(User)).status_code == 403


def test_province_staff_cannot_assign_a_unit_outside_their_province(
    client_of, province_staff, official, other_commune
):
    client = client_of(province_staff)
    assignment = official.assignments.get()
    data = {
        "username": "official",
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "role": Role.COMMUNE_OFFICIAL,
        "is_active": "on",
        "assignments-TOTAL_FORMS": "2",
        "assignments-INITIAL_FORMS": "1",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
        "assignments-0-id": assignment.pk,
        "assignments-0-user": official.pk,
        "assignments-0-unit": assignment.unit_id,
        "assignments-1-user": official.pk,
        "assignments-1-unit": other_commune.pk,
    }
    response = client.post(change_url(official), data)
    assert response.status_code == 200  # the form comes back with an error
    assert not UnitAssignment.objects.filter(user=official, unit=other_commune).exists()


def test_province_staff_cannot_make_a_superuser(client_of, province_staff, official):
    client = client_of(province_staff)
    page = client.get(change_url(official)).content.decode()
    assert 'name="is_superuser"' not in page


def test_audit_events_are_scoped_and_append_only(client_of, province_staff, official, outsider):
    from cnsc.access.models import AuditAction
    from cnsc.access.services import audit_record

    ours = audit_record(user=official, action=AuditAction.EXPORT, target="geo.hamlet", rows=3)
    theirs = audit_record(user=outsider, action=AuditAction.EXPORT, target="geo.hamlet", rows=9)
    client = client_of(province_staff)
    response = client.get(reverse("admin:access_auditevent_changelist"))
    assert list(response.context["cl"].result_list) == [ours]
    assert client.get(change_url(theirs)).status_code == 404
    assert client.get(reverse("admin:access_auditevent_add")).status_code == 403
    assert client.post(change_url(ours), {"rows": 0}).status_code == 403
    assert client_of(official).get(reverse("admin:access_auditevent_changelist")).status_code == 403


def test_the_audit_log_has_no_history_pages(client_of, superuser, official):
    from cnsc.access.models import AuditEvent
    from cnsc.access.services import audit_record

    event = audit_record(user=official, action="export", target="team.member")
    assert isinstance(event, AuditEvent)
    client = client_of(superuser)
    base = f"/admin/access/auditevent/{event.pk}/history/"
    assert client.get(base).status_code == 404
    assert client.get(base + "1/").status_code == 404


def test_a_superuser_grants_unmasked_exports_and_nothing_else_to_a_person(
    client_of, superuser, province_staff, official
):
    from django.contrib.auth.models import Permission

    def perm(app_label: str, codename: str) -> Permission:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    page = client_of(province_staff).get(change_url(official)).content.decode()
    assert 'name="user_permissions"' not in page
    form = client_of(superuser).get(change_url(official)).context["adminform"].form
    offered = {
        f"{p.content_type.app_label}.{p.codename}" for p in form.fields["user_permissions"].queryset
    }
    assert offered == {"team.view_personal_data", "outreach.view_personal_data"}

    # Any other permission on the user's row grants nothing: actions come from the role.
    official.user_permissions.add(perm("team", "delete_team"))
    official = User.objects.get(pk=official.pk)
    assert not official.has_perm("team.delete_team")
    assert not official.has_perm("team.view_personal_data")
    official.user_permissions.add(perm("team", "view_personal_data"))
    official = User.objects.get(pk=official.pk)
    assert official.has_perm("team.view_personal_data")
    assert not official.has_perm("outreach.view_personal_data")
    assert official.has_perm("team.change_member")  # the role's own permissions stay
