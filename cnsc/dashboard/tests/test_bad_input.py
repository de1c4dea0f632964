"""Bad input beyond /api/v1/values (whose cases are in test_api.py): the unit listing, the two
files, and the pages. Each gets 400, 403 or 404 with a sentence saying what is wrong, never a
500, and never a figure of a unit the asker may not read."""

from __future__ import annotations

import pytest

from cnsc.core.testing import client_for

pytestmark = pytest.mark.django_db

FILES = ("/api/v1/values.csv", "/api/v1/dataValueSets.json")


def assert_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["error"] == error
    assert len(body["message"]) > 10
    assert set(body) == {"error", "message"}


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"within": "99999", "level": "hamlet"}, 404, "unknown_unit"),
        ({"within": "25750", "level": "hamlet"}, 403, "out_of_scope"),
        ({"within": "79", "level": "commune"}, 403, "out_of_scope"),
        ({"within": "F718", "level": "former_commune"}, 403, "out_of_scope"),
        ({"within": "25747"}, 400, "level_missing"),
        ({"level": "hamlet"}, 400, "within_missing"),
        ({"within": "25747", "level": "galaxy"}, 400, "bad_level"),
        ({"within": "25747", "level": "commune"}, 400, "bad_level"),
        ({"page_size": "1000000"}, 400, "bad_page_size"),
        ({"page": "0"}, 400, "bad_page"),
    ],
)
def test_the_unit_listing_refuses_bad_input_and_other_scopes(
    built, token_for, api, params, status, error
):
    assert_error(api(token_for("25747")).get("/api/v1/units", params), status, error)


@pytest.mark.parametrize("path", FILES)
@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"unit": "99999", "period": "2025"}, 404, "unknown_unit"),
        ({"unit": "79", "indicator": "happiness", "period": "2025"}, 404, "unknown_indicator"),
        ({"unit": "79", "period": "2025-12"}, 400, "bad_period"),
        ({"unit": "79", "start": "2000", "end": "2049"}, 400, "range_too_long"),
        ({"unit": "79", "start": "20000101", "end": "20491231"}, 400, "range_too_long"),
        ({"unit": "79", "start": "2000W1", "end": "2049W52"}, 400, "range_too_long"),
        ({"unit": "79", "start": "2000Q1", "end": "2049Q4"}, 400, "range_too_long"),
        ({"unit": "79", "start": "200001", "end": "204912"}, 400, "range_too_long"),
        ({"unit": "79", "level": "galaxy", "period": "2025"}, 400, "bad_level"),
    ],
)
def test_the_files_refuse_bad_input_like_the_json(
    built, token_for, api, path, params, status, error
):
    assert_error(api(token_for("79")).get(path, params), status, error)


def test_a_fifty_year_range_of_days_is_refused_on_every_route(built, token_for, api):
    client = api(token_for("79"))
    fifty_years = {"unit": "79", "start": "20000101", "end": "20491231"}
    for path in ("/api/v1/values", *FILES):
        response = client.get(path, fifty_years)
        assert_error(response, 400, "range_too_long")
        assert "366" in response.json()["message"]


@pytest.mark.parametrize(
    ("within", "level", "allowed"),
    [
        ("F718", "commune", "inside a province;"),
        ("F718", "former_district", "inside a province or former province;"),
        ("F74", "former_province", "inside a province;"),
        ("F74", "hamlet", "inside a province, commune or former commune;"),
        ("F25747", "former_commune", "inside a province, former province or former district;"),
        ("F25747", "team", "inside a province or commune;"),
        ("25747", "former_commune", "inside a province, former province or former district;"),
    ],
)
def test_a_level_that_is_not_inside_the_unit_is_refused(
    built, token_for, api, within, level, allowed
):
    """A former district holds no current communes, a former ward no teams: said so."""
    response = api(token_for("79")).get("/api/v1/units", {"within": within, "level": level})
    assert_error(response, 400, "bad_level")
    message = response.json()["message"]
    assert f"level={level} lists the units {allowed}" in message
    assert within in message


def test_a_token_of_another_scope_reads_nothing_of_the_other_units(built, token_for, api):
    """A token for Phú Lợi asks for Thủ Dầu Một in every way there is: directly, by listing the
    units inside the province or a former district, in a file, among its own units."""
    client = api(token_for("25750"))
    asks = [
        ("/api/v1/values", {"unit": "25747", "period": "202512"}),
        ("/api/v1/values", {"unit": "25750,25747", "period": "202512"}),
        ("/api/v1/values", {"unit": "79", "level": "commune", "period": "202512"}),
        ("/api/v1/values", {"unit": "F718", "period": "202512"}),
        ("/api/v1/values", {"unit": "25747-TA", "period": "202512"}),
        ("/api/v1/units", {"within": "25747", "level": "team"}),
        *[(path, {"unit": "25747", "period": "202512"}) for path in FILES],
    ]
    for path, params in asks:
        assert_error(client.get(path, params), 403, "out_of_scope")
    # Its own teams, listed from its commune, are only its own.
    own = client.get("/api/v1/units", {"within": "25750", "level": "team"}).json()["data"]
    assert [u["code"] for u in own] == ["25750-TC"]


def test_a_token_without_units_reads_nothing(built, token_for, api):
    client = api(token_for())
    assert client.get("/api/v1/units").json()["data"] == []
    assert_error(
        client.get("/api/v1/values", {"unit": "79", "period": "2025"}), 403, "out_of_scope"
    )


PROVINCE = "/dashboard/p/79/"
HOME = "/dashboard/c/25747/"


def test_a_page_grouped_by_nonsense_is_explained(built, province_staff):
    response = client_for(province_staff).get(PROVINCE, {"group": "galaxy"})
    assert response.status_code == 400
    html = response.content.decode()
    assert response.context["message"] in html
    assert "huyện cũ" in response.context["message"]
    assert 'href="?">Xem tháng gần nhất</a>' in html


def test_a_page_sorted_by_an_unknown_indicator_falls_back_to_the_first_column(
    built, province_staff
):
    response = client_for(province_staff).get(
        PROVINCE, {"period": "202512", "sort": "communes.happiness", "dir": "sideways"}
    )
    assert response.status_code == 200
    table = response.context["page"].tables[0]
    assert table.sort == table.indicators[0].code


def test_unknown_tables_and_reports_are_404(built, province_staff, official):
    client = client_for(province_staff)
    for url in (
        PROVINCE + "export/nonsense.xlsx",
        PROVINCE + "export/hamlets.xlsx",  # a province page has no table of hamlets
        "/dashboard/h/" + "9" * 10 + "/report.pdf",
    ):
        assert client.get(url, {"period": "202512"}).status_code == 404, url
    # A commune official's export of the neighbour's table is a 404 too, not an empty file.
    neighbour = client_for(official).get("/dashboard/c/25750/export/hamlets.xlsx")
    assert neighbour.status_code == 404


def test_another_units_page_and_a_missing_one_get_the_same_plain_404(built, official):
    """In Vietnamese, saying what may be wrong, and word for word the same whether the unit
    exists (the neighbour ward) or not (a code no unit has)."""
    client = client_for(official)
    other = client.get("/dashboard/c/25750/")
    missing = client.get("/dashboard/c/99999/")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    html = other.content.decode()
    assert "Không tìm thấy trang" in html
    assert "ngoài các đơn vị tài khoản của bạn được xem" in html
    assert "25750" not in html
    assert "Phú Lợi" not in html
