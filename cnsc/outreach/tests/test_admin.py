"""Back office for outreach: scoped lists, 404 for another commune's rows, 403 for read-only
users on writes, masked personal data, officials handling field reports."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from cnsc.access.roles import Role
from cnsc.core.testing import make_user
from cnsc.outreach.models import CheckIn, FieldReport, Household, Resident, Visit
from cnsc.outreach.services import checkin_record, field_report_create
from cnsc.outreach.tests.factories import (
    CCCD_WOMAN_1990,
    done,
    make_head,
    make_household,
    make_resident,
    record,
)
from cnsc.team.models import MemberRole
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db


def url(obj, view: str = "change") -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.fixture
def work(team, member, household, resident):
    """One of everything in the home commune."""
    visit = record(member, household, [done(resident)])
    checkin, _ = checkin_record(
        member=member, hamlet=team.hamlet, at=visit.happened_at, idempotency_key="c1"
    )
    report, _ = field_report_create(
        reporter=member, category="connectivity", text="Mất sóng ở hẻm 7", idempotency_key="r1"
    )
    return {
        "household": household,
        "resident": resident,
        "visit": visit,
        "checkin": checkin,
        "report": report,
    }


@pytest.fixture
def foreign(other_hamlet):
    """The same in the outsider's commune."""
    team = make_team(other_hamlet)
    member = enrol(team, full_name="Người Hà Nội").member
    household = make_household(team, house_number="99")
    resident = make_head(household, full_name="Đinh Văn Xa")
    visit = record(member, household, [done(resident)])
    report, _ = field_report_create(
        reporter=member, category="other", text="Ở xa", idempotency_key="r-far"
    )
    return {"household": household, "resident": resident, "visit": visit, "report": report}


@pytest.mark.parametrize("name", ["household", "resident", "visit", "checkin", "report"])
def test_an_outsider_gets_404_for_our_rows(client_of, outsider, work, name):
    obj = work[name]
    client = client_of(outsider)
    assert client.get(url(obj)).status_code == 404
    assert client.get(url(obj, "history")).status_code == 404
    assert client.post(url(obj), {}).status_code == 404


@pytest.mark.parametrize("model", [Household, Resident, Visit, CheckIn, FieldReport])
def test_a_user_without_a_unit_sees_empty_lists(client_of, unassigned, work, model):
    response = client_of(unassigned).get(changelist(model))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize(
    ("model", "ours", "theirs"),
    [
        (Household, "household", "household"),
        (Resident, "resident", "resident"),
        (Visit, "visit", "visit"),
        (FieldReport, "report", "report"),
    ],
)
def test_lists_show_our_rows_only(client_of, official, work, foreign, model, ours, theirs):
    response = client_of(official).get(changelist(model))
    rows = set(response.context["cl"].result_list)
    assert work[ours] in rows
    assert foreign[theirs] not in rows


def test_province_staff_see_every_commune_of_their_province(
    client_of, province_staff, work, foreign
):
    rows = set(client_of(province_staff).get(changelist(Household)).context["cl"].result_list)
    assert work["household"] in rows
    assert foreign["household"] not in rows


def test_a_team_leader_sees_their_teams_households_only(client_of, team, work, hamlet):
    from cnsc.geo.models import Hamlet, HamletKind

    next_team = make_team(
        Hamlet.objects.create(commune=hamlet.commune, name="KP 2", kind=HamletKind.QUARTER)
    )
    elsewhere = make_household(next_team, house_number="1")
    leader = make_user("leader", Role.TEAM_LEADER)
    enrol(team, role=MemberRole.LEADER, full_name="Tổ Trưởng", user=leader)
    client = client_of(leader)
    rows = set(client.get(changelist(Household)).context["cl"].result_list)
    assert rows == {work["household"]}
    assert client.get(url(elsewhere)).status_code == 404
    assert client.post(url(work["household"]), {}).status_code == 403  # leaders only look


def test_search_without_diacritics(client_of, official, work, foreign):
    response = client_of(official).get(changelist(Household) + "?q=nguyen+van+tu")
    assert list(response.context["cl"].result_list) == [work["household"]]
    response = client_of(official).get(changelist(Resident) + "?q=NGUYEN VAN")
    assert list(response.context["cl"].result_list) == [work["resident"]]


def test_residents_show_masked_phone_and_last_four_only(client_of, official, household):
    make_resident(
        household,
        full_name="Trần Thị Mai",
        sex="female",
        birth_year=1990,
        phone="0912345678",
        cccd=CCCD_WOMAN_1990,
    )
    page = client_of(official).get(changelist(Resident)).content.decode()
    assert "0912***678" in page
    assert "0912345678" not in page
    assert "4321" in page
    assert CCCD_WOMAN_1990 not in page


def test_the_read_only_role_cannot_write(client_of, province_reader, work):
    client = client_of(province_reader)
    assert client.get(url(work["household"])).status_code == 200
    assert client.post(url(work["household"]), {"code": "X"}).status_code == 403
    assert client.post(url(work["report"]), {"answer": "x"}).status_code == 403
    assert client.get(reverse("admin:outreach_household_add")).status_code == 403
    work["report"].refresh_from_db()
    assert work["report"].answer == ""


def test_visits_are_read_only_even_for_officials(client_of, official, work):
    client = client_of(official)
    page = client.get(url(work["visit"]))
    assert page.status_code == 200
    assert "Nguyễn Văn Tư" in page.content.decode()  # the outcome's resident, inline
    assert client.post(url(work["visit"]), {"notes": "x"}).status_code == 403
    assert client.get(reverse("admin:outreach_visit_add")).status_code == 403


def test_an_official_adds_a_household_and_a_resident_with_a_cccd(client_of, official, team, member):
    client = client_of(official)
    data = {
        "code": "HK-77",
        "hamlet": team.hamlet.pk,
        "house_number": "7",
        "street": "Hẻm 3",
        "phone": "0912 000 111",
        "team": team.pk,
        "assigned_member": member.pk,
        "residents-TOTAL_FORMS": 0,
        "residents-INITIAL_FORMS": 0,
    }
    response = client.post(reverse("admin:outreach_household_add"), data)
    assert response.status_code == 302, response.context["adminform"].errors
    household = Household.objects.get(code="HK-77")
    assert (household.commune, household.phone) == (team.commune, "+84912000111")
    assert household.history.first().history_user == official

    response = client.post(
        reverse("admin:outreach_household_add"),
        {**data, "latitude": 1.3, "longitude": 103.8},
        HTTP_ACCEPT_LANGUAGE="vi",
    )
    assert response.status_code == 200
    with translation.override("vi"):
        message = gettext(
            "This location is outside Vietnam. Share your location again from where you are."
        )
    assert message.startswith("Vị trí")  # the official reads it in Vietnamese
    assert message in response.content.decode()

    resident_data = {
        "household": household.pk,
        "full_name": "Trần Thị Mai",
        "sex": "female",
        "birth_year": 1990,
        "relation_to_head": "head",
        "cccd": CCCD_WOMAN_1990,
        "service_states-TOTAL_FORMS": 0,
        "service_states-INITIAL_FORMS": 0,
        "service_events-TOTAL_FORMS": 0,
        "service_events-INITIAL_FORMS": 0,
    }
    assert client.get(reverse("admin:outreach_resident_add")).status_code == 200
    found = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "outreach",
            "model_name": "resident",
            "field_name": "household",
            "term": "hk-77",
        },
    ).json()
    assert [r["id"] for r in found["results"]] == [str(household.pk)]
    response = client.post(reverse("admin:outreach_resident_add"), resident_data)
    assert response.status_code == 302, response.context["adminform"].errors
    resident = Resident.objects.get(full_name="Trần Thị Mai")
    household.refresh_from_db()
    assert (resident.cccd_last4, household.head) == ("4321", resident)

    response = client.post(
        reverse("admin:outreach_resident_add"), {**resident_data, "full_name": "Bản sao"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "already registered" in page
    assert CCCD_WOMAN_1990 not in page


def test_an_official_assigns_and_answers_a_report(client_of, official, outsider, work):
    report = work["report"]
    client = client_of(official)
    response = client.post(url(report), {"assigned_to": outsider.pk, "answer": ""})
    assert response.status_code == 200  # the outsider is not a choice, or is refused
    report.refresh_from_db()
    assert report.assigned_to is None

    response = client.post(url(report), {"assigned_to": official.pk, "answer": ""})
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.status, report.assigned_to) == ("assigned", official)

    response = client.post(
        url(report), {"assigned_to": official.pk, "answer": "Đã báo nhà mạng.", "close": "on"}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.status, report.answer) == ("closed", "Đã báo nhà mạng.")
    assert report.answered_at is not None
    assert report.reporter_notified_at is None
    assert client.post(url(report), {"answer": "again"}).status_code == 403  # closed


def test_officials_close_reports_in_bulk(client_of, official, work, foreign):
    response = client_of(official).post(
        changelist(FieldReport),
        {"action": "close_reports", "_selected_action": [work["report"].pk, foreign["report"].pk]},
    )
    assert response.status_code == 302
    work["report"].refresh_from_db()
    foreign["report"].refresh_from_db()
    assert (work["report"].status, foreign["report"].status) == ("closed", "open")


def test_the_household_search_box_finds_nothing_of_another_commune(client_of, outsider, work):
    found = client_of(outsider).get(
        reverse("admin:autocomplete"),
        {
            "app_label": "outreach",
            "model_name": "resident",
            "field_name": "household",
            "term": work["household"].code,
        },
    )
    assert found.status_code == 200
    assert found.json()["results"] == []
