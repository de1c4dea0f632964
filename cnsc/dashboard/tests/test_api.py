"""The API: tokens and their scope, the figures in three shapes, and every kind of bad input
answered with a clear JSON error, never a 500 and never another unit's data."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from cnsc.dashboard.models import ApiClient

pytestmark = pytest.mark.django_db


def test_no_token_bad_token_withdrawn_token(built, token_for, api):
    assert Client().get("/api/v1/values", {"unit": "79", "period": "2025"}).status_code == 401
    response = api("cnsc_not-a-real-token").get("/api/v1/values", {"unit": "79", "period": "2025"})
    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")
    token = token_for("79")
    ApiClient.objects.update(is_active=False)
    assert api(token).get("/api/v1/indicators").status_code == 401


def test_tokens_are_stored_hashed(token_for):
    token = token_for("79")
    client = ApiClient.objects.get()
    assert token not in (client.token_hash, client.token_hint)
    assert token.startswith(client.token_hint)


def test_a_figure_by_unit_indicator_and_period(built, token_for, api):
    response = api(token_for("79")).get(
        "/api/v1/values", {"unit": "25747", "indicator": "vneid_level2", "period": "202512"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["data"]
    assert row == {
        "indicator": "vneid_level2",
        "unit": "25747",
        "unit_type": "commune",
        "period": "202512",
        "period_type": "month",
        "numerator": 1,
        "denominator": 4,
        "value": 25.0,
        "measure": "percent",
        "computed_at": row["computed_at"],
    }
    assert row["computed_at"].endswith("+07:00")


def test_a_range_of_months_for_one_indicator(built, token_for, api):
    response = api(token_for("79")).get(
        "/api/v1/values",
        {"unit": "79", "indicator": "visits", "start": "202510", "end": "202601"},
    )
    data = response.json()["data"]
    assert [(r["period"], r["value"]) for r in data] == [
        ("202510", 1),
        ("202511", 1),
        ("202512", 4),
        ("202601", 2),
    ]


def test_a_token_reads_its_units_and_below_only(built, token_for, api):
    client = api(token_for("25747"))
    ok = {"unit": "25747", "period": "202512"}
    assert client.get("/api/v1/values", ok).status_code == 200
    hamlet_a = built.hamlets["A"].code
    assert client.get("/api/v1/values", {**ok, "unit": hamlet_a}).status_code == 200
    assert client.get("/api/v1/values", {**ok, "unit": "25747-TA"}).status_code == 200
    for code in ("79", "25750", built.hamlets["C"].code, "25750-TC", "F718", "00004"):
        response = client.get("/api/v1/values", {**ok, "unit": code})
        assert response.status_code == 403, code
        assert response.json()["error"] == "out_of_scope"
        assert "data" not in response.json()
    # One unit out of scope spoils the whole request: nothing of the others is sent either.
    mixed = client.get("/api/v1/values", {**ok, "unit": "25747,25750"})
    assert mixed.status_code == 403


def test_level_lists_the_units_inside(built, token_for, api):
    client = api(token_for("79"))
    response = client.get(
        "/api/v1/values",
        {"unit": "79", "level": "commune", "indicator": "visits", "period": "202512"},
    )
    assert [(r["unit"], r["value"]) for r in response.json()["data"]] == [("25747", 4)]
    teams = client.get(
        "/api/v1/values",
        {"unit": "25747", "level": "team", "indicator": "visits", "period": "202512"},
    )
    assert sorted((r["unit"], r["value"]) for r in teams.json()["data"]) == [
        ("25747-TA", 3),
        ("25747-TB", 1),
    ]
    units = client.get("/api/v1/units", {"within": "79", "level": "former_district"}).json()
    assert "F718" in [u["code"] for u in units["data"]]
    mine = client.get("/api/v1/units").json()["data"]
    assert mine == [
        {"code": "79", "type": "province", "name": "Thành phố Hồ Chí Minh", "parent": None}
    ]


def test_a_former_unit_lists_the_former_units_inside_it(built, token_for, api):
    """As the pages drill down the old way: former province, its districts, their communes."""
    client = api(token_for("79"))
    response = client.get("/api/v1/units", {"within": "F74", "level": "former_district"})
    assert response.status_code == 200
    districts = response.json()
    # Bình Dương had nine districts, towns and cities before 1 July 2025.
    assert districts["count"] == 9
    assert {u["type"] for u in districts["data"]} == {"former_district"}
    assert {u["parent"] for u in districts["data"]} == {"F74"}
    thu_dau_mot = next(u for u in districts["data"] if u["code"] == "F718")
    assert thu_dau_mot["name"] == "Thành phố Thủ Dầu Một"
    communes = client.get("/api/v1/units", {"within": "F718", "level": "former_commune"}).json()
    # Thủ Dầu Một city had fourteen wards, Phú Cường, Phú Hòa and Phú Thọ among them.
    assert communes["count"] == 14
    names = {u["code"]: u["name"] for u in communes["data"]}
    assert names["F25747"] == "Phường Phú Cường"
    assert names["F25750"] == "Phường Phú Hòa"
    assert names["F25753"] == "Phường Phú Thọ"
    assert {u["parent"] for u in communes["data"]} == {"F718"}
    hamlets = client.get("/api/v1/units", {"within": "F25747", "level": "hamlet"}).json()
    assert [u["code"] for u in hamlets["data"]] == [built.hamlets["A"].code]
    # The figures the same way: the December visits of Thủ Dầu Một's former wards.
    figures = client.get(
        "/api/v1/values",
        {"unit": "F718", "level": "former_commune", "indicator": "visits", "period": "202512"},
    ).json()["data"]
    assert [(r["unit"], r["value"]) for r in figures] == [("F25747", 3), ("F25753", 1)]


def test_a_former_unit_lists_only_units_the_token_may_read(built, token_for, api):
    """A former ward that went into no current commune is read by no scoped token, so the
    listing leaves it out, and every code it does list can be read."""
    from cnsc.geo.models import UnitMapping

    UnitMapping.objects.filter(former__code="25741", former__hierarchy="former").delete()
    client = api(token_for("79"))
    listed = client.get("/api/v1/units", {"within": "F718", "level": "former_commune"}).json()
    codes = [u["code"] for u in listed["data"]]
    assert "F25741" not in codes
    assert len(codes) == 13
    assert client.get("/api/v1/values", {"unit": "F25741", "period": "2025"}).status_code == 403
    for code in codes:
        response = client.get("/api/v1/values", {"unit": code, "period": "2025"})
        assert response.status_code == 200, code


def test_a_token_of_another_province_may_not_list_a_former_province(built, token_for, api):
    client = api(token_for("01"))
    for params in (
        {"within": "F74", "level": "former_district"},
        {"within": "F718", "level": "former_commune"},
    ):
        listed = client.get("/api/v1/units", params)
        assert listed.status_code == 403
        assert listed.json()["error"] == "out_of_scope"
        assert "data" not in listed.json()
    # The same refusal as for the former province's own figures.
    figures = client.get("/api/v1/values", {"unit": "F74", "period": "2025"})
    assert (figures.status_code, figures.json()["error"]) == (403, "out_of_scope")


def test_pages_of_values(built, token_for, api):
    client = api(token_for("79"))
    params = {"unit": "25747", "period": "202512", "page_size": "3"}
    first = client.get("/api/v1/values", params).json()
    assert first["page_size"] == 3
    assert len(first["data"]) == 3
    assert first["count"] > 3
    second = client.get(first["next"]).json()
    assert second["page"] == 2
    assert not {(r["indicator"]) for r in first["data"]} & {
        (r["indicator"]) for r in second["data"]
    }


def test_long_csv(built, token_for, api):
    response = api(token_for("79")).get(
        "/api/v1/values.csv", {"unit": "79,25747", "indicator": "visits", "period": "202512"}
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["indicator", "period", "unit_code", "value", "unit", "computed_at"]
    assert sorted(r[:5] for r in rows[1:]) == [
        ["visits", "202512", "25747", "4", "count"],
        ["visits", "202512", "79", "4", "count"],
    ]


def test_dhis2_data_value_sets_use_codes(built, token_for, api):
    response = api(token_for("79")).get(
        "/api/v1/dataValueSets.json",
        {"unit": "25747", "indicator": "vneid_level2,visits", "period": "202512"},
    )
    assert response.json() == {
        "dataValues": [
            {"dataElement": "visits", "period": "202512", "orgUnit": "25747", "value": "4"},
            {
                "dataElement": "vneid_level2",
                "period": "202512",
                "orgUnit": "25747",
                "value": "25.0",
            },
        ]
    }


def test_indicators_in_both_languages(built, token_for, api):
    data = api(token_for("79")).get("/api/v1/indicators").json()["data"]
    vneid = next(i for i in data if i["code"] == "vneid_level2")
    assert vneid["name"] == "Residents aged 14 and over with a level-2 VNeID account"
    assert vneid["name_vi"] == "Người từ 14 tuổi có tài khoản định danh điện tử mức 2"
    assert vneid["measure"] == "percent"
    assert vneid["kind"] == "stock"


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"unit": "99999", "period": "2025"}, 404, "unknown_unit"),
        ({"unit": "ZZ", "period": "2025"}, 404, "unknown_unit"),
        ({"unit": "79", "indicator": "happiness", "period": "2025"}, 404, "unknown_indicator"),
        ({"unit": "79", "period": "2025-12"}, 400, "bad_period"),
        ({"unit": "79", "period": "202513"}, 400, "bad_period"),
        ({"unit": "79", "period": "2026W54"}, 400, "bad_period"),
        ({"unit": "79", "start": "1990", "end": "2040"}, 400, "bad_period"),
        ({"unit": "79", "start": "2001", "end": "2050"}, 400, "range_too_long"),
        ({"unit": "79", "start": "200101", "end": "205012"}, 400, "range_too_long"),
        ({"unit": "79", "start": "2025", "end": "202512"}, 400, "range_types"),
        ({"unit": "79", "start": "2026", "end": "2025"}, 400, "range_order"),
        ({"unit": "79", "start": "2025"}, 400, "period_missing"),
        ({"unit": "79"}, 400, "period_missing"),
        ({"unit": "79", "period": "2025", "start": "2025", "end": "2025"}, 400, "period_and_range"),
        ({"unit": "79", "period": "2099"}, 400, "future_period"),
        ({"unit": "79", "period": "20220105"}, 400, "period_not_kept"),
        ({"period": "2025"}, 400, "unit_missing"),
        ({"unit": "79", "period": "2025", "page_size": "1000000"}, 400, "bad_page_size"),
        ({"unit": "79", "period": "2025", "page_size": "0"}, 400, "bad_page_size"),
        ({"unit": "79", "period": "2025", "page_size": "-5"}, 400, "bad_page_size"),
        ({"unit": "79", "period": "2025", "page": "x"}, 400, "bad_page"),
        ({"unit": "79", "period": "2025", "level": "galaxy"}, 400, "bad_level"),
        ({"unit": "25747", "period": "2025", "level": "commune"}, 400, "bad_level"),
        ({"unit": ",".join(["79"] * 101), "period": "2025"}, 200, None),  # duplicates collapse
        ({"unit": ",".join(f"{i:05d}" for i in range(101)), "period": "2025"}, 400, "too_many"),
        ({"unit": "79'; DROP TABLE x;--", "period": "2025"}, 404, "unknown_unit"),
        ({"unit": "79", "period": "\x00"}, 400, "bad_period"),
        ({"unit": "25747-T\x00", "period": "2025"}, 404, "unknown_unit"),
        ({"unit": "25747-" + "T" * 500, "period": "2025"}, 404, "unknown_unit"),
    ],
)
def test_bad_input_gets_a_clear_json_error(built, token_for, api, params, status, error):
    response = api(token_for("79")).get("/api/v1/values", params)
    assert response.status_code == status, response.content
    if error:
        body = response.json()
        assert body["error"] == error
        assert len(body["message"]) > 10
        assert "data" not in body


def test_an_out_of_scope_unit_in_a_file_is_refused_too(built, token_for, api):
    client = api(token_for("25750"))
    for path in ("/api/v1/values.csv", "/api/v1/dataValueSets.json"):
        response = client.get(path, {"unit": "25747", "period": "202512"})
        assert response.status_code == 403


def test_a_file_too_large_is_refused(built, token_for, api, monkeypatch):
    from cnsc.dashboard import api as api_module

    monkeypatch.setattr(api_module, "MAX_FILE_ROWS", 10)
    response = api(token_for("79")).get("/api/v1/values.csv", {"unit": "79", "period": "202512"})
    assert response.status_code == 400
    assert response.json()["error"] == "too_large"


def test_the_api_is_read_only(built, token_for, api):
    client = api(token_for("79"))
    assert client.post("/api/v1/values", {"unit": "79", "period": "2025"}).status_code == 405
    assert client.delete("/api/v1/indicators").status_code == 405


def test_a_client_over_its_allowance_gets_429_and_others_are_not_slowed(
    built, token_for, api, settings
):
    settings.API_RATE_LIMIT = "3/m"
    busy, other = api(token_for("79", name="IOC")), api(token_for("79", name="Open data"))
    assert [busy.get("/api/v1/indicators").status_code for _ in range(3)] == [200] * 3
    refused = busy.get("/api/v1/indicators")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another client of the same machine keeps its own allowance.
    assert other.get("/api/v1/indicators").status_code == 200


def test_a_refused_request_costs_no_database_query(
    built, token_for, api, settings, django_assert_num_queries
):
    settings.API_RATE_LIMIT = "1/m"
    busy = api(token_for("79", name="IOC"))
    assert busy.get("/api/v1/indicators").status_code == 200
    with django_assert_num_queries(0):
        assert busy.get("/api/v1/indicators").status_code == 429


def test_the_public_documents_are_limited_per_address(built, settings):
    settings.API_PUBLIC_RATE_LIMIT = "2/m"
    here = Client(REMOTE_ADDR="203.0.113.7")
    elsewhere = Client(REMOTE_ADDR="203.0.113.8")
    assert [here.get("/api/v1/openapi.json").status_code for _ in range(2)] == [200, 200]
    refused = here.get("/api/v1/openapi.json")
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert elsewhere.get("/api/v1/openapi.json").status_code == 200
