"""Open data: aggregates for anyone, nothing that could single out a person, and metadata a
portal can harvest."""

from __future__ import annotations

import csv
import io
import json

import pytest

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
    # Thủ Dầu Một has 4 households listed at the end of December: shown...
    visited = find(rows, "25747", "households_visited", "202512")
    assert (visited["status"], visited["value"], visited["numerator"]) == ("ok", "75.0", "3")
    assert find(rows, "25747", "visits", "202512")["value"] == "4"
    # ... but only 2 welfare beneficiaries: that share is withheld.
    welfare = find(rows, "25747", "welfare_account", "202512")
    assert (welfare["status"], welfare["value"]) == ("suppressed", "")
    # Phú Lợi has a single household: all of it is withheld.
    assert find(rows, "25750", "vneid_level2", "202512")["status"] == "suppressed"


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
    assert meta["description"]
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
