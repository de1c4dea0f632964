"""Open data: aggregates for anyone, nothing that could single out a person, and metadata a
portal can harvest."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cnsc.dashboard.opendata import complemented

pytestmark = pytest.mark.django_db

CSV = "/api/v1/open/79/values.csv"


def rows_of(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def find(rows, code: str, indicator: str, period: str) -> dict[str, str]:
    (row,) = [
        r
        for r in rows
        if (r["unit_code"], r["indicator"], r["period"]) == (code, indicator, period)
    ]
    return row


def test_units_with_few_households_are_withheld(built, client):
    # Default minimum: 20 households. The whole city has 5 in December 2025.
    rows = rows_of(client.get(CSV))
    assert rows
    assert {r["status"] for r in rows} == {"suppressed"}
    assert all(r["value"] == r["numerator"] == r["denominator"] == "" for r in rows)


def test_small_shares_are_withheld_in_units_large_enough(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    rows = rows_of(client.get(CSV))
    # The city has 5 households listed at the end of December: shown...
    visited = find(rows, "79", "households_visited", "202512")
    assert (visited["status"], visited["value"], visited["numerator"]) == ("ok", "80.0", "4")
    # ... and Thủ Dầu Một (4 households) shows its visits (Phú Lợi had none that month)...
    assert find(rows, "25747", "visits", "202512")["value"] == "4"
    # ... but only 2 welfare beneficiaries: that share is withheld.
    welfare = find(rows, "25747", "welfare_account", "202512")
    assert (welfare["status"], welfare["value"]) == ("suppressed", "")
    # Phú Lợi has a single household: all of it is withheld.
    assert find(rows, "25750", "vneid_level2", "202512")["status"] == "suppressed"
    # Thủ Dầu Một is the city's only other ward: its share of households visited, shown on its
    # own, would give Phú Lợi's as the city's less it, so it is withheld too.
    assert find(rows, "25747", "households_visited", "202512")["status"] == "suppressed"


# The published hierarchy of the hand-built world: parent -> children.
GROUPS = {
    "79": {"25747", "25750"},
    "F74": {"F718"},
    "F718": {"F25747", "F25750", "F25753"},
}


def lone_withheld(rows) -> list[tuple[str, str, str]]:
    """(indicator, period, parent) where a parent and its children have exactly one withheld
    figure, which the others would give by subtraction."""
    status = {(r["indicator"], r["period"], r["unit_code"]): r["status"] for r in rows}
    figures = {(r["indicator"], r["period"]) for r in rows}
    out = []
    for indicator, period in sorted(figures):
        for parent, children in GROUPS.items():
            cells = [
                status[(indicator, period, code)]
                for code in (parent, *children)
                if (indicator, period, code) in status
            ]
            if len(cells) > 1 and cells.count("suppressed") == 1:
                out.append((indicator, period, parent))
    return out


@pytest.mark.parametrize("minimum", [1, 3, 5])
def test_a_withheld_figure_cannot_be_worked_out_by_subtraction(built, client, settings, minimum):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = minimum
    rows = rows_of(client.get(CSV))
    body = json.loads(b"".join(client.get("/api/v1/open/79/values.json").streaming_content))
    # Same figures withheld in both files.
    assert {(r["indicator"], r["period"], r["unit_code"], r["status"]) for r in rows} == {
        (r["indicator"], r["period"], r["unit_code"], r["status"]) for r in body["data"]
    }
    # No parent with its children has exactly one withheld figure: the province less its
    # other communes, or a former district less its other former communes, gives nothing.
    assert lone_withheld(rows) == []
    for row in rows:
        if row["status"] == "suppressed":
            assert row["value"] == row["numerator"] == row["denominator"] == ""


def test_the_subtraction_that_gave_phu_loi_away_no_longer_works(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    rows = rows_of(client.get(CSV))
    # The city (2 of 5 with level-2 VNeID) less Thủ Dầu Một (1 of 4) was Phú Lợi's withheld
    # 1 of 1: Thủ Dầu Một's figure is now withheld beside Phú Lợi's.
    city = find(rows, "79", "vneid_level2", "202512")
    assert (city["status"], city["numerator"], city["denominator"]) == ("ok", "2", "5")
    for ward in ("25747", "25750"):
        row = find(rows, ward, "vneid_level2", "202512")
        assert (row["status"], row["numerator"], row["denominator"]) == ("suppressed", "", "")
    # Visits in December: former Phú Thọ (1 household) is withheld, so its district's other
    # former ward, Phú Cường (3 households, 3 visits), is withheld with it; the district (4)
    # stays.
    assert find(rows, "F25753", "visits", "202512")["status"] == "suppressed"
    assert find(rows, "F25747", "visits", "202512")["status"] == "suppressed"
    assert find(rows, "F718", "visits", "202512")["value"] == "4"


def test_secondary_withholding_picks_the_smallest_and_climbs_levels():
    sizes = {"P": 66, "a": 1, "b": 10, "c": 5, "d": 50,
             "FP": 30, "D1": 20, "D2": 2, "x": 4, "y": 16, "z": 2, "w": 8}  # fmt: skip
    unit = {name: ("commune", n) for n, name in enumerate(sizes)}
    parents = {"a": "P", "b": "P", "c": "P", "d": "P",
               "D1": "FP", "D2": "FP", "x": "D1", "y": "D1", "z": "D2"}  # fmt: skip
    size = {unit[k]: (v, k) for k, v in sizes.items()}
    parent_of = {unit[k]: unit[v] for k, v in parents.items()}
    names = {v: k for k, v in unit.items()}

    def withheld(*small: str) -> set[str]:
        return {names[u] for u in complemented(size, {unit[s] for s in small}, parent_of)}

    # Ward a alone withheld: c, the smallest of the others, goes with it; b and d stay.
    assert withheld("a") == {"a", "c"}
    # Two withheld already: nothing more.
    assert withheld("a", "d") == {"a", "d"}
    # z is D2's only ward, so D2 goes; then FP less D1 would give D2, so D1 goes; then D1
    # less y would give x, so x (smaller than y) goes. w has no published parent.
    assert withheld("z") == {"z", "D2", "D1", "x"}
    # A parent withheld by itself would be the sum of its children: the smallest goes too.
    assert withheld("P") == {"P", "a"}
    assert withheld("w") == {"w"}


def test_open_data_has_no_hamlets_teams_or_people(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 1
    rows = rows_of(client.get(CSV))
    assert {r["unit_type"] for r in rows} <= {
        "province", "commune", "former_province", "former_district", "former_commune",
    }  # fmt: skip
    text = json.dumps(rows, ensure_ascii=False)
    for name in ("Cư dân", "Thành viên", "Khu phố", "Học viên"):
        assert name not in text
    assert {r["period"][:4] for r in rows} <= {"2022", "2023", "2024", "2025", "2026"}
    assert not [r for r in rows if "W" in r["period"] or len(r["period"]) == 8]


def test_json_carries_the_same_figures(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    body = json.loads(b"".join(client.get("/api/v1/open/79/values.json").streaming_content))
    assert body["metadata"].endswith("/api/v1/open/79/values.json-metadata.json")
    row = find(body["data"], "25747", "visits", "202512")
    assert row["value"] == 4
    assert row["status"] == "ok"


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_metadata_reads_as_schema_org_and_dcat(built, client, kind):
    response = client.get(f"/api/v1/open/79/values.{kind}-metadata.json")
    assert response["Content-Type"] == "application/ld+json"
    meta = response.json()
    assert {"Dataset", "dcat:Dataset"} <= set(meta["@type"])
    assert meta["@context"]["@vocab"] == "https://schema.org/"
    assert {t["@language"] for t in meta["name"]} == {"vi", "en"}
    assert {t["@language"] for t in meta["dct:title"]} == {"vi", "en"}
    described = {t["@language"]: t["@value"] for t in meta["description"]}
    assert "fewer than 20 households" in described["en"]
    assert "worked out by subtraction" in described["en"]
    assert "phép trừ" in described["vi"]
    assert meta["publisher"]["name"].endswith("Thành phố Hồ Chí Minh")
    assert meta["license"].startswith("https://creativecommons.org/")
    assert meta["temporalCoverage"].count("/") == 1
    assert meta["dct:temporal"]["dcat:startDate"]["@value"] == meta["temporalCoverage"][:10]
    assert meta["spatialCoverage"]["identifier"] == "79"
    assert meta["dateModified"]
    (distribution,) = meta["distribution"]
    assert distribution["contentUrl"].endswith(f"/api/v1/open/79/values.{kind}")
    names = [v["name"] for v in meta["variableMeasured"]]
    header = rows_of(client.get(CSV))[0].keys() if kind == "csv" else None
    if header is not None:
        assert names == list(header)
        columns = [c["csvw:name"] for c in meta["csvw:tableSchema"]["csvw:column"]]
        assert columns == names


def test_open_data_needs_no_token_and_names_its_provinces(built, client):
    catalogue = client.get("/api/v1/open/").json()["data"]
    assert [p["province"] for p in catalogue] == ["79"]
    assert client.get("/api/v1/open/99/values.csv").status_code == 404
    assert client.get("/api/v1/open/7%009/values.csv").status_code == 404
    bad = client.get(CSV, {"period_type": "day"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "bad_period_type"


def test_json_withholds_what_the_csv_withholds(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    body = json.loads(b"".join(client.get("/api/v1/open/79/values.json").streaming_content))
    csv_rows = rows_of(client.get(CSV))
    assert len(body["data"]) == len(csv_rows)
    # Phú Lợi has a single household: every figure of it is withheld, numerator included.
    neighbour = [r for r in body["data"] if r["unit_code"] == "25750"]
    assert neighbour
    for row in neighbour:
        assert (row["status"], row["value"], row["numerator"], row["denominator"]) == (
            "suppressed", None, None, None,
        )  # fmt: skip
    welfare = find(body["data"], "25747", "welfare_account", "202512")
    assert (welfare["status"], welfare["value"]) == ("suppressed", None)
