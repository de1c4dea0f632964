"""The roster back office: scoping (404 for outsiders, empty for the unassigned, 403 for
read-only writes), member pages that never show a CCCD, search, the import and the export."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.access.roles import Role
from cnsc.core.testing import make_user
from cnsc.team.models import Member, MemberRole, Membership, Target, Team
from cnsc.team.tests.factories import CCCD_MAN_1985, enrol, make_member, make_team
from cnsc.team.tests.test_imports import member_row, team_row, xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted on their English source text; the Vietnamese catalogue changes."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def url(name: str, *args) -> str:
    return reverse(f"admin:team_{name}", args=args)


@pytest.fixture
def roster(hamlet):
    team = make_team(hamlet, code="KP1", name="Tổ CNSC Khu phố 1")
    leader = enrol(
        team,
        role=MemberRole.LEADER,
        full_name="Nguyễn Văn An",
        phone="0912345678",
        cccd=CCCD_MAN_1985,
    )
    member = enrol(
        team, full_name="Trần Thị Bình", sex="female", birth_year=1990, phone="0987654321"
    )
    return team, leader, member


def test_an_outsider_gets_404_for_our_team_member_and_membership(client_of, outsider, roster):
    team, leader, _ = roster
    client = client_of(outsider)
    for name, obj in (("team", team), ("member", leader.member), ("membership", leader)):
        assert client.get(url(f"{name}_change", obj.pk)).status_code == 404
        assert client.get(url(f"{name}_history", obj.pk)).status_code == 404
        page = client.get(url(f"{name}_changelist")).content.decode()
        assert "Nguyễn Văn An" not in page
        assert "Tổ CNSC Khu phố 1" not in page


def test_a_user_without_a_unit_sees_empty_lists(client_of, unassigned, roster):
    client = client_of(unassigned)
    for name in ("team", "member", "membership"):
        response = client.get(url(f"{name}_changelist"))
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


def test_province_staff_see_the_communes_of_their_province(client_of, province_staff, roster):
    response = client_of(province_staff).get(url("member_changelist"))
    assert response.context["cl"].result_count == 2


@pytest.mark.parametrize("name", ["team", "member", "membership", "target"])
def test_read_only_province_staff_get_403_on_writes(
    client_of, province_reader, roster, home_province, name
):
    team, leader, _ = roster
    obj = {"team": team, "member": leader.member, "membership": leader}.get(name)
    if name == "target":
        obj = Target.objects.create(unit=home_province, year=2025, members=4500, teams=586)
    client = client_of(province_reader)
    assert client.get(url(f"{name}_change", obj.pk)).status_code == 200
    assert client.get(url(f"{name}_add")).status_code == 403
    assert client.post(url(f"{name}_add"), {}).status_code == 403
    assert client.post(url(f"{name}_change", obj.pk), {}).status_code == 403


def test_an_official_creates_a_team_but_not_in_another_communes_hamlet(
    client_of, official, hamlet, other_hamlet
):
    client = client_of(official)
    data = {
        "kind": "hamlet",
        "hamlet": other_hamlet.pk,
        "code": "T9",
        "name": "Tổ lạ",
        "status": "active",
        "status_since": "01/01/2025",
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    response = client.post(url("team_add"), data)
    assert response.status_code == 200
    assert "hamlet" in response.context["adminform"].form.errors
    assert not Team.objects.exists()
    data["hamlet"] = hamlet.pk
    response = client.post(url("team_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    team = Team.objects.get()
    assert team.commune == hamlet.commune


def test_the_team_page_shows_members_roles_and_time_served(client_of, official, roster):
    team, leader, _ = roster
    Membership.objects.filter(pk=leader.pk).update(joined_on="2023-03-01")
    page = client_of(official).get(url("team_change", team.pk)).content.decode()
    assert "Nguyễn Văn An" in page
    assert "Trần Thị Bình" in page
    assert str(MemberRole.LEADER.label) in page
    assert re.search(r"\d+\s+years?", page)  # served for years


def test_member_search_without_diacritics_and_by_phone_in_any_form(client_of, official, roster):
    client = client_of(official)
    for term in ("nguyen van an", "Nguyễn Văn", "0912 345 678", "+84912345678", "84-912-345-678"):
        response = client.get(url("member_changelist"), {"q": term})
        names = [m.full_name for m in response.context["cl"].result_list]
        assert names == ["Nguyễn Văn An"], term


def test_member_filters_by_role_and_organisation(client_of, official, roster):
    client = client_of(official)
    response = client.get(url("member_changelist"), {"role": "leader"})
    assert [m.full_name for m in response.context["cl"].result_list] == ["Nguyễn Văn An"]
    response = client.get(url("member_changelist"), {"organisation": "police"})
    assert response.context["cl"].result_count == 0


def test_team_search_without_diacritics(client_of, official, roster):
    response = client_of(official).get(url("team_changelist"), {"q": "to cnsc khu pho"})
    assert response.context["cl"].result_count == 1


def _member_post(commune, **extra):
    data = {
        "commune": commune.pk,
        "full_name": "Phạm Thị Dung",
        "sex": "female",
        "birth_year": 1985,
        "phone": "0903 111 222",
        "email": "",
        "organisation": "other",
        "skills": "",
        "consent_purpose": "",
        "cccd": "",
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    data.update(extra)
    return data


def test_the_cccd_is_hashed_on_save_and_never_shown_back(client_of, official, home_commune):
    client = client_of(official)
    add_page = client.get(url("member_add")).content.decode()
    assert 'name="consent_given"' in add_page
    assert not re.search(r'name="consent_given"[^>]*checked', add_page)

    response = client.post(url("member_add"), _member_post(home_commune, cccd="074 1 85 012345"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    member = Member.objects.get()
    assert member.phone == "+84903111222"
    assert member.cccd_last4 == "2345"
    assert member.consent_given_at is None
    page = client.get(url("member_change", member.pk)).content.decode()
    assert "074185012345" not in page
    assert "2345" in page

    # Leaving the box empty keeps the number; a wrong one is refused without repeating it.
    data = _member_post(home_commune, consent_given="on")
    assert client.post(url("member_change", member.pk), data).status_code == 302
    member.refresh_from_db()
    assert member.cccd_last4 == "2345"
    assert member.consent_given_at is not None
    response = client.post(
        url("member_change", member.pk), _member_post(home_commune, cccd="074085012345")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "074085012345" not in body
    errors = response.context["adminform"].form.errors
    assert "sex" in str(errors.get("cccd")), errors


def test_a_duplicate_phone_is_refused_in_the_admin(client_of, official, home_commune, roster):
    response = client_of(official).post(
        url("member_add"), _member_post(home_commune, phone="84-912-345-678")
    )
    assert response.status_code == 200
    assert "already on a roster" in str(response.context["adminform"].form.errors["phone"])


def test_a_second_leader_is_refused_in_the_admin(client_of, official, roster, home_commune):
    team, _, _ = roster
    newcomer = make_member(home_commune, full_name="Lê Văn Cường", phone="0903999888")
    response = client_of(official).post(
        url("membership_add"),
        {"member": newcomer.pk, "team": team.pk, "role": "leader", "joined_on": "01/01/2025"},
    )
    assert response.status_code == 200
    assert "already has a leader" in response.content.decode()
    assert not newcomer.memberships.exists()


def test_a_team_leader_sees_only_their_own_team(client_of, roster, other_hamlet):
    team, leader, member = roster
    other = make_team(other_hamlet, code="HN1")
    stranger = enrol(other, full_name="Người lạ", phone="0977000111")
    account = make_user("leader1", Role.TEAM_LEADER)
    Member.objects.filter(pk=leader.member.pk).update(user=account)
    client = client_of(account)
    response = client.get(url("member_changelist"))
    assert {m.full_name for m in response.context["cl"].result_list} == {
        "Nguyễn Văn An",
        "Trần Thị Bình",
    }
    assert client.get(url("team_change", team.pk)).status_code == 200
    assert client.get(url("team_change", other.pk)).status_code == 404
    assert client.get(url("member_change", stranger.member.pk)).status_code == 404
    assert client.post(url("member_change", member.member.pk), {}).status_code == 403


# --- Import through the back office -------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(client, data, commune, name="roster.xlsx"):
    return client.post(
        url("member_roster_import"),
        {"commune": commune.pk, "file": SimpleUploadedFile(name, data)},
    )


@pytest.mark.usefixtures("media")
def test_upload_preview_then_apply(client_of, official, hamlet):
    client = client_of(official)
    data = xlsx(teams=[team_row()], members=[member_row(role="Tổ trưởng", cccd=CCCD_MAN_1985)])
    response = _upload(client, data, hamlet.commune)
    assert response.status_code == 200
    page = response.content.decode()
    assert "0912***678" in page
    assert CCCD_MAN_1985 not in page
    assert not Member.objects.exists()
    token = response.context["token"]
    assert token
    # The token names no person and no number.
    assert "0912" not in token

    response = client.post(url("member_roster_import"), {"token": token})
    assert response.status_code == 302
    assert Member.objects.get().cccd_last4 == "2345"
    assert Membership.objects.get().role == "leader"
    # Applied once: the kept file is gone, the token cannot be replayed.
    assert client.post(url("member_roster_import"), {"token": token}).status_code == 403


@pytest.mark.usefixtures("media")
def test_a_preview_with_errors_offers_no_apply(client_of, official, hamlet):
    data = xlsx(members=[member_row(phone="123", team=None)])
    response = _upload(client_of(official), data, hamlet.commune)
    assert response.context["token"] == ""
    page = response.content.decode()
    assert "Số điện thoại" in page
    assert 'name="token"' not in page


@pytest.mark.usefixtures("media")
def test_a_too_large_or_broken_file_is_refused_on_the_form(client_of, official, hamlet, settings):
    settings.IMPORT_MAX_BYTES = 1024
    client = client_of(official)
    response = _upload(client, b"x" * 2048, hamlet.commune)
    assert "too large" in str(response.context["form"].errors["file"])
    response = _upload(client, b"\x00\x01\x02", hamlet.commune, name="photo.png")
    assert "not a spreadsheet" in str(response.context["form"].errors["file"])


@pytest.mark.usefixtures("media")
def test_a_real_50_mb_upload_and_an_empty_file_get_a_vietnamese_message(
    client_of, official, hamlet
):
    from django import forms
    from django.utils.translation import gettext

    client = client_of(official)
    big = xlsx(teams=[team_row()])
    big += b"\0" * (50 * 1024 * 1024 - len(big))
    for data in (big, b""):
        response = client.post(
            url("member_roster_import"),
            {"commune": hamlet.commune.pk, "file": SimpleUploadedFile("roster.xlsx", data)},
            HTTP_ACCEPT_LANGUAGE="vi",
        )
        assert response.status_code == 200
        errors = " ".join(response.context["form"].errors["file"])
        with translation.override("vi"):
            if data:
                expected = gettext(
                    "The file is too large (%(size)s MB); the limit is %(limit)s MB."
                )
                expected = expected.split("(")[0].strip()
            else:
                # Refused by the upload field itself, in Django's own Vietnamese.
                expected = str(forms.FileField.default_error_messages["empty"])
        assert not expected.startswith("The file")  # the official reads Vietnamese
        assert expected in errors, errors
        page = response.content.decode()
        assert expected in page
        assert 'name="token"' not in page  # nothing to apply
    assert not Team.objects.exists()


@pytest.mark.usefixtures("media")
def test_import_tokens_are_bound_to_their_user_and_cannot_be_forged(
    client_of, official, hamlet, home_commune
):
    data = xlsx(teams=[team_row()])
    token = _upload(client_of(official), data, hamlet.commune).context["token"]
    colleague = make_user("colleague", Role.COMMUNE_OFFICIAL, (home_commune,))
    assert (
        client_of(colleague).post(url("member_roster_import"), {"token": token}).status_code == 403
    )
    forged = client_of(official).post(url("member_roster_import"), {"token": token + "x"})
    assert forged.status_code == 403
    assert not Team.objects.exists()


def test_the_import_cannot_target_another_commune(client_of, official, other_commune):
    response = _upload(client_of(official), xlsx(teams=[team_row()]), other_commune)
    assert "commune" in response.context["form"].errors


def test_read_only_users_cannot_import(client_of, province_reader):
    client = client_of(province_reader)
    assert client.get(url("member_roster_import")).status_code == 403
    assert client.get(url("member_roster_template")).status_code == 200


def test_the_template_downloads(client_of, official):
    response = client_of(official).get(url("member_roster_template"))
    wb = load_workbook(io.BytesIO(response.content))
    assert "Thành viên" in wb.sheetnames


# --- Export ---------------------------------------------------------------------------------


def _export(client, members, **query):
    return client.post(
        url("member_changelist")
        + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
        {"action": "export_xlsx", "_selected_action": [m.pk for m in members]},
    )


def _cells(response) -> list[list[object]]:
    wb = load_workbook(io.BytesIO(response.content))
    return [list(row) for row in wb.active.iter_rows(values_only=True)]


def test_the_export_is_masked_and_recorded(client_of, official, roster):
    _team, leader, member = roster
    started = timezone.now()
    response = _export(client_of(official), [leader.member, member.member], organisation="other")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _cells(response)
    text = repr(rows)
    assert "0912***678" in text
    assert "0912345678" not in text
    assert "+84912345678" not in text
    assert "********2345" in text
    assert CCCD_MAN_1985 not in text
    assert rows[0][0] == "Họ và tên"
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (event.user, event.rows, event.unmasked) == (official, 2, False)
    assert event.detail["filters"] == {"organisation": "other"}
    assert event.target == "team.member"
    assert started <= event.at <= timezone.now()


def test_the_export_is_unmasked_only_with_the_permission(client_of, superuser, roster):
    _team, leader, _ = roster
    rows = _cells(_export(client_of(superuser), [leader.member]))
    text = repr(rows)
    assert "0912345678" in text
    assert CCCD_MAN_1985 not in text
    assert AuditEvent.objects.get(action=AuditAction.EXPORT).unmasked is True


def test_an_official_granted_the_permission_exports_unmasked(client_of, official, roster):
    from django.contrib.auth.models import Permission

    _team, leader, member = roster
    # The role alone never unmasks: the permission is given to a person.
    rows = _cells(_export(client_of(official), [leader.member]))
    assert "0912345678" not in repr(rows)
    official.user_permissions.add(
        Permission.objects.get(codename="view_personal_data", content_type__app_label="team")
    )
    rows = _cells(_export(client_of(official), [leader.member, member.member]))
    text = repr(rows)
    assert "0912345678" in text
    assert "0987654321" in text
    assert "********2345" in text  # the CCCD is never more than its last four
    assert CCCD_MAN_1985 not in text
    events = AuditEvent.objects.filter(action=AuditAction.EXPORT).order_by("pk")
    assert [(e.user, e.rows, e.unmasked) for e in events] == [
        (official, 1, False),
        (official, 2, True),
    ]


def test_the_export_neutralises_formulas(client_of, official, home_commune):
    evil = make_member(
        home_commune,
        full_name='=HYPERLINK("http://x")',
        phone="0903000111",
        skills="+1+1",
        email="",
    )
    rows = _cells(_export(client_of(official), [evil]))
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[1][7] == "'+1+1"


def test_an_outsider_cannot_export_our_members(client_of, outsider, roster):
    _team, leader, _ = roster
    response = _export(client_of(outsider), [leader.member])
    # The action only sees the outsider's own rows: the file holds the headers alone.
    rows = _cells(response)
    assert len(rows) == 1
    assert AuditEvent.objects.get(action=AuditAction.EXPORT).rows == 0


def test_ending_a_membership_in_the_admin_keeps_it(client_of, official, roster):
    _team, _leader, member = roster
    response = client_of(official).post(
        url("membership_change", member.pk),
        {
            "joined_on": member.joined_on.strftime("%d/%m/%Y"),
            "left_on": member.joined_on.strftime("%d/%m/%Y"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.left_on == member.joined_on
    assert Membership.objects.filter(pk=member.pk).exists()


def test_joining_a_team_of_another_commune_moves_the_members_roster(
    client_of, roster, home_commune, neighbour_commune
):
    team, _, _ = roster
    both = make_user("both", Role.COMMUNE_OFFICIAL, (home_commune, neighbour_commune))
    newcomer = make_member(neighbour_commune, full_name="Lê Văn Cường", phone="0903999888")
    response = client_of(both).post(
        url("membership_add"),
        {"member": newcomer.pk, "team": team.pk, "role": "member", "joined_on": "01/01/2025"},
    )
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.commune == team.commune
    assert newcomer.memberships.get().team == team


def test_a_status_change_in_the_admin_is_dated_today(client_of, official, roster):
    from django.utils import timezone

    team, _, _ = roster
    Team.objects.filter(pk=team.pk).update(status_since="2023-01-01")
    data = {
        "kind": "hamlet",
        "commune": team.commune.pk,
        "hamlet": team.hamlet.pk,
        "code": team.code,
        "name": team.name,
        "status": "suspended",
        "status_since": "01/01/2023",
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    response = client_of(official).post(url("team_change", team.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    team.refresh_from_db()
    assert (team.status, team.status_since) == ("suspended", timezone.localdate())


def test_province_staff_set_targets_officials_only_read_them(
    client_of, province_staff, official, home_province
):
    data = {"unit": home_province.pk, "year": 2026, "members": 4500, "teams": 586}
    assert client_of(official).post(url("target_add"), data).status_code == 403
    response = client_of(province_staff).post(url("target_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Target.objects.get().members == 4500
    assert client_of(official).get(url("target_changelist")).context["cl"].result_count == 1
