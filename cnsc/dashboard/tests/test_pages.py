"""Dashboard pages, exports and the monthly report: what each viewer sees, and what they may
not."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.access.roles import Role
from cnsc.core.testing import client_for, make_user
from cnsc.geo.models import Hamlet

pytestmark = pytest.mark.django_db

PROVINCE = "/dashboard/p/79/"
HOME = "/dashboard/c/25747/"
NEIGHBOUR = "/dashboard/c/25750/"
FORMER_DISTRICT = "/dashboard/f/718/"
FORMER_COMMUNE = "/dashboard/f/25747/"  # Phú Cường, wholly inside Thủ Dầu Một


def hamlet_url(w, key: str) -> str:
    return f"/dashboard/h/{w.hamlets[key].code}/"


def team_url(w, key: str) -> str:
    team = w.teams[key]
    return f"/dashboard/t/{team.commune.code}/{team.code}/"


def test_province_staff_see_the_province_and_drill_down(built, province_staff):
    client = client_for(province_staff)
    page = client.get(PROVINCE + "?period=202512")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Phường Thủ Dầu Một" in html
    assert "Phường Phú Lợi" in html
    assert HOME + "?period=202512" in html  # drill-down link keeps the period
    for url in (HOME, NEIGHBOUR, hamlet_url(built, "A"), team_url(built, "A"), FORMER_DISTRICT):
        assert client.get(url).status_code == 200, url


def test_the_province_page_ranks_communes_and_groups_by_former_district(built, province_staff):
    client = client_for(province_staff)
    page = client.get(PROVINCE, {"period": "202512", "sort": "communes.visits", "dir": "desc"})
    rows = [line.ref.code for line in page.context["page"].tables[0].rows]
    assert rows[:2] == ["25747", "25750"]  # 4 visits, then none
    ascending = client.get(PROVINCE, {"period": "202512", "sort": "communes.visits", "dir": "asc"})
    assert next(r.ref.code for r in ascending.context["page"].tables[0].rows) == "25750"
    grouped = client.get(PROVINCE, {"period": "202512", "group": "former_district"})
    table = grouped.context["page"].tables[0]
    assert table.key == "former_districts"
    assert [r.ref.code for r in table.rows] == ["F718"]
    assert "Thành phố Thủ Dầu Một" in grouped.content.decode()


def test_hamlets_without_an_active_team_are_listed(built, province_staff):
    client = client_for(province_staff)
    december = client.get(PROVINCE + "?period=202512").context["page"]
    assert [h.name for h, _url in december.hamlets_without_team] == ["Khu phố 9"]
    november = client.get(HOME + "?period=202511").context["page"]
    assert [h.name for h, _url in november.hamlets_without_team] == ["Khu phố 2"]
    # The commune page's table of hamlets is titled as a list, not as a count.
    assert "<h2>Thôn, ấp, khu phố <span" in client.get(HOME).content.decode()


def test_each_figure_says_when_it_was_computed(built, province_staff):
    page = client_for(province_staff).get(PROVINCE + "?period=202512")
    assert "Figures computed at" in page.content.decode() or "Số liệu tính lúc" in (
        page.content.decode()
    )
    cards = page.context["page"].cards
    assert all(c.figure.computed_at for c in cards if c.figure.numerator)


def test_a_commune_official_sees_their_commune_only(built, official):
    client = client_for(official)
    assert client.get(HOME).status_code == 200
    assert client.get(hamlet_url(built, "A")).status_code == 200
    assert client.get(team_url(built, "O")).status_code == 200
    assert client.get(FORMER_COMMUNE).status_code == 200
    for url in (
        PROVINCE,
        NEIGHBOUR,
        hamlet_url(built, "C"),
        team_url(built, "C"),
        # Former district 718 also went into Phú Lợi: grouping the old way would show it.
        FORMER_DISTRICT,
        "/dashboard/f/25741/",  # Hiệp Thành, split between the two wards
        PROVINCE + "export/communes.xlsx",
        "/dashboard/p/79/report.pdf",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/dashboard/").url == HOME


def test_an_outsider_and_an_unassigned_user_see_nothing(built, outsider, unassigned):
    for user in (outsider, unassigned):
        client = client_for(user)
        for url in (
            PROVINCE,
            HOME,
            hamlet_url(built, "A"),
            team_url(built, "A"),
            FORMER_DISTRICT,
            HOME + "export/hamlets.xlsx",
            HOME + "report.pdf",
        ):
            assert client.get(url).status_code == 404, (user, url)


def test_a_team_leader_sees_their_team_only(built, home_commune):
    leader = make_user("leader", Role.TEAM_LEADER, (home_commune,))
    member = built.members["m1"]
    member.user = leader
    member.save()
    client = client_for(leader)
    assert client.get(team_url(built, "A")).status_code == 200
    assert client.get("/dashboard/").url == team_url(built, "A")
    for url in (HOME, hamlet_url(built, "A"), team_url(built, "O"), PROVINCE):
        assert client.get(url).status_code == 404, url


def test_pages_need_a_login(built, client):
    response = client.get(PROVINCE)
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_pages_take_no_writes(built, province_reader):
    client = client_for(province_reader)
    assert client.get(PROVINCE).status_code == 200
    assert client.post(PROVINCE).status_code == 405
    assert client.post(PROVINCE + "export/communes.xlsx").status_code == 405


def test_unknown_codes_are_404(built, superuser):
    client = client_for(superuser)
    for url in (
        "/dashboard/p/99/",
        "/dashboard/c/99999/",
        "/dashboard/h/NOPE234567/",
        "/dashboard/t/25747/NOPE/",
        "/dashboard/f/999/",
        "/dashboard/p/25747/",
    ):
        assert client.get(url).status_code == 404, url
    # Control characters: refused before or by the view, never a database error.
    for url in ("/dashboard/t/25747/T%00/", "/dashboard/f/7%0018/"):
        assert client.get(url).status_code in (400, 404), url


@pytest.mark.parametrize(
    "period", ["2026x", "20261340", "2026W60", "1999", "2999", "19000101", "' OR 1=1"]
)
def test_a_bad_period_is_explained(built, province_staff, period):
    response = client_for(province_staff).get(PROVINCE, {"period": period})
    assert response.status_code == 400
    assert response.context["message"]


def test_days_older_than_kept_are_refused_with_a_reason(built, province_staff):
    response = client_for(province_staff).get(PROVINCE, {"period": "20250105"})
    assert response.status_code == 400
    assert "20250105" not in response.context["message"]  # says from when, not an echo


def test_the_table_export_is_recorded_and_neutralises_formulas(built, official):
    Hamlet.objects.filter(pk=built.hamlets["A"].pk).update(name='=HYPERLINK("http://x","y")')
    response = client_for(official).get(HOME + "export/hamlets.xlsx", {"period": "202512"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert '\'=HYPERLINK("http://x","y")' in names
    assert not any(isinstance(n, str) and n.startswith("=") for n in names)
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert event.target == "dashboard.hamlets"
    assert event.detail["unit"] == "25747"
    assert event.rows == len(names)


def test_the_monthly_report_is_a_vietnamese_pdf(built, province_staff):
    response = client_for(province_staff).get(PROVINCE + "report.pdf", {"period": "202512"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Thành phố Hồ Chí Minh" in text
    assert "Người từ 14 tuổi có tài khoản định danh điện tử mức 2" in text
    assert "Phường Thủ Dầu Một" in text
    assert "Khu phố 9" in text  # the hamlet without a team
    assert AuditEvent.objects.filter(target="dashboard.monthly_report").count() == 1


def test_each_page_of_the_monthly_report_says_which_report_and_page_of_how_many(built, official):
    response = client_for(official).get(HOME + "report.pdf", {"period": "202512"})
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        footer = page.extract_text().splitlines()[-2:]
        assert f"Trang {number}/{len(pages)}" in footer
        assert any(line.startswith("Báo cáo tháng 12/2025") for line in footer), footer


def test_the_monthly_reports_tables_show_what_the_pages_tables_show(built, province_staff):
    # Teams and members are counts in a table (a commune rarely has a plan of its own): the
    # report printed their share of a plan, a dash for every commune.
    client = client_for(province_staff)
    table = client.get(PROVINCE, {"period": "202512"}).context["page"].tables[0]
    unit, _url, figures = next(line for line in table.lines if line[0].code == "25747")
    cells = [figure.cell for figure in figures]
    teams = next(f for f in figures if f.indicator.code == "teams")
    assert teams.cell == str(teams.numerator) != "—"
    response = client.get(PROVINCE + "report.pdf", {"period": "202512"})
    reader = PdfReader(io.BytesIO(response.content))
    lines = "\n".join(page.extract_text() for page in reader.pages).splitlines()
    start = lines.index(unit.name)
    assert lines[start + 1 : start + 1 + len(cells)] == cells


def test_the_monthly_report_is_for_a_month(built, province_staff):
    response = client_for(province_staff).get(HOME + "report.pdf", {"period": "2025"})
    assert response.status_code == 400


def test_names_sort_in_vietnamese_alphabetical_order():
    from cnsc.dashboard.selectors import natural

    names = [
        "Phường Thuận An",
        "Xã An Long",
        "Phường Tân Hiệp",
        "Phường Đông Hòa",
        "Phường Thủ Dầu Một",
        "Phường Bình Hòa",
        "Phường Thới Hòa",
        "Phường Dĩ An",
        "Phường Bến Cát",
        "Phường Tây Nam",
    ]
    assert sorted(names, key=natural) == [
        "Phường Bến Cát",  # e before i
        "Phường Bình Hòa",
        "Phường Dĩ An",
        "Phường Đông Hòa",  # đ after d
        "Phường Tân Hiệp",  # t before th
        "Phường Tây Nam",
        "Phường Thới Hòa",  # ơ before u
        "Phường Thủ Dầu Một",  # "thủ" before "thuận": a shorter word first
        "Phường Thuận An",
        "Xã An Long",
    ]
    assert sorted(["Khu phố 10", "Ấp 2", "Khu phố 2", "Ấp An Hòa"], key=natural) == [
        "Ấp 2",
        "Ấp An Hòa",
        "Khu phố 2",
        "Khu phố 10",
    ]
    # Tones only tell apart words that are otherwise the same.
    assert sorted(["Mỹ", "Mý", "My", "Mỵ", "Mỳ", "Mỷ"], key=natural) == [
        "My", "Mỳ", "Mý", "Mỷ", "Mỹ", "Mỵ",
    ]  # fmt: skip


def test_charts_are_drawn_in_the_page_and_nothing_is_fetched_from_elsewhere(built, province_staff):
    import re

    page = client_for(province_staff).get(PROVINCE + "?period=202512")
    html = page.content.decode()
    cards = page.context["page"].cards
    assert len(cards) == 11  # every indicator of a province
    assert all(card.chart.lstrip().startswith("<svg") for card in cards)
    assert html.count("<svg") >= len(cards)
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links
    outside = [u for u in links if not u.startswith(("/", "?", "#"))]
    assert outside == []
