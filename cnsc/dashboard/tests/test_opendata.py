"""Open data: aggregates for anyone, nothing that could single out a person, and metadata a
portal can harvest."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cnsc.dashboard.indicators import CATALOGUE, INDICATORS
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
    # ... but it has only 2 welfare beneficiaries: that share is withheld.
    welfare = find(rows, "79", "welfare_account", "202512")
    assert (welfare["status"], welfare["value"]) == ("suppressed", "")
    # Phú Lợi has a single household: all of it is withheld.
    assert find(rows, "25750", "vneid_level2", "202512")["status"] == "suppressed"
    # Thủ Dầu Một is the city's only other ward: any figure of it, shown on its own, would
    # give Phú Lợi's as the city's less it, so it is withheld too.
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


def pooled_extremes(rows) -> list[tuple[str, str, str, int, int]]:
    """(indicator, period, parent, numerator, denominator) where a published share less every
    published figure under it that subtraction can take (its published children, and those of
    its withheld children) leaves withheld figures that pool to 0% or 100%, so that the file
    says that of every person in them; a parent whose own share is 0% or 100% says it itself
    and is left out."""
    by_key = {(r["indicator"], r["period"], r["unit_code"]): r for r in rows}
    figures = {(r["indicator"], r["period"]) for r in rows}
    out = []
    for indicator, period in sorted(figures):
        if not INDICATORS[indicator].is_percent or INDICATORS[indicator].roster_target:
            continue
        for parent in GROUPS:
            top = by_key.get((indicator, period, parent))
            if top is None or top["status"] != "ok":
                continue
            num, den = int(top["numerator"]), int(top["denominator"])
            if num in (0, den):
                continue
            pooled = False
            under = list(GROUPS[parent])
            while under:
                row = by_key.get((indicator, period, under.pop()))
                if row is None:
                    continue
                if row["status"] == "suppressed":
                    pooled = True
                    under.extend(GROUPS.get(row["unit_code"], ()))
                else:
                    num -= int(row["numerator"])
                    den -= int(row["denominator"])
            if pooled and den > 0 and num in (0, den):
                out.append((indicator, period, parent, num, den))
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
    # Every unit with a line is in GROUPS, so the check above and the one below see them all.
    assert {r["unit_code"] for r in rows} <= {*GROUPS, *(c for k in GROUPS.values() for c in k)}
    # No published share less what is published under it leaves withheld ones at 0% or 100%.
    assert pooled_extremes(rows) == []
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
    # Visits in December: former Phú Thọ (1 household, 1 visit) and former Phú Hòa (1
    # household, no visit, withheld all the same) are withheld together, so the district (4)
    # less Phú Cường (3) gives only their total.
    assert find(rows, "F25753", "visits", "202512")["status"] == "suppressed"
    assert find(rows, "F25750", "visits", "202512")["status"] == "suppressed"
    assert find(rows, "F25747", "visits", "202512")["value"] == "3"
    assert find(rows, "F718", "visits", "202512")["value"] == "4"
    # Phú Lợi had no visit in December: the city (4) less Thủ Dầu Một (4) would show it, so
    # Thủ Dầu Một's visits are withheld beside Phú Lợi's withheld line.
    assert find(rows, "79", "visits", "202512")["value"] == "4"
    assert find(rows, "25750", "visits", "202512")["status"] == "suppressed"
    assert find(rows, "25747", "visits", "202512")["status"] == "suppressed"


def test_withheld_shares_that_pool_to_everyone_are_not_given_away(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    rows = rows_of(client.get(CSV))
    # Households visited in December, former district 718: 4 of 5. Former Phú Thọ (1 of 1)
    # and Phú Hòa (1 of 1) are withheld for having a single household each; with Phú Cường (2
    # of 3) shown, the district less it gave them together 2 of 2: both households visited.
    # Phú Cường is now withheld too, and the district less nothing is the district itself.
    district = find(rows, "F718", "households_visited", "202512")
    assert (district["status"], district["numerator"], district["denominator"]) == (
        "ok", "4", "5",
    )  # fmt: skip
    for ward in ("F25747", "F25750", "F25753"):
        row = find(rows, ward, "households_visited", "202512")
        assert (row["status"], row["numerator"], row["denominator"]) == ("suppressed", "", "")
    assert pooled_extremes(rows) == []


def test_pooled_extremes_withhold_the_smallest_published_one_until_none_is_left():
    sizes = {"P": 10, "a": 1, "b": 2, "c": 3, "d": 4}
    unit = {name: ("former_commune", n) for n, name in enumerate(sizes)}
    size = {unit[k]: (v, k) for k, v in sizes.items()}
    parent_of = {unit[k]: unit["P"] for k in "abcd"}
    names = {v: k for k, v in unit.items()}

    def withheld(shares: dict[str, tuple[int, int]], *small: str) -> set[str]:
        given = {unit[k]: v for k, v in shares.items()}
        hidden = complemented(size, {unit[s] for s in small}, parent_of, given)
        return {names[u] for u in hidden}

    # P 6 of 10; a (1 of 1) and b (2 of 2) withheld pool to 3 of 3: c (3, the smaller of the
    # two left) goes too, 3 of 6 with c at 0 of 3.
    assert withheld({"P": (6, 10), "a": (1, 1), "b": (2, 2), "c": (0, 3), "d": (3, 4)},
                    "a", "b") == {"a", "b", "c"}  # fmt: skip
    # With c at 3 of 3 the pool stays at 100%: d goes as well, and then the pool is P itself.
    assert withheld({"P": (9, 10), "a": (1, 1), "b": (2, 2), "c": (3, 3), "d": (3, 4)},
                    "a", "b") == {"a", "b", "c", "d"}  # fmt: skip
    # Pooled 0 of 3 is as telling as 3 of 3.
    assert withheld({"P": (4, 10), "a": (0, 1), "b": (0, 2), "c": (1, 3), "d": (3, 4)},
                    "a", "b") == {"a", "b", "c"}  # fmt: skip
    # A pool between the two is left alone; so is every pool under a parent at 100%, which
    # says it of everyone under it already.
    assert withheld({"P": (5, 10), "a": (1, 1), "b": (0, 2), "c": (1, 3), "d": (3, 4)},
                    "a", "b") == {"a", "b"}  # fmt: skip
    assert withheld({"P": (10, 10), "a": (1, 1), "b": (2, 2), "c": (3, 3), "d": (4, 4)},
                    "a", "b") == {"a", "b"}  # fmt: skip


def test_a_small_unit_has_a_withheld_line_for_every_figure_of_the_period(built, client, settings):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = 3
    rows = rows_of(client.get(CSV))
    # The city has all eleven indicators in December 2025. Phú Lợi (1 household) had figures
    # stored for only four (no team left, no visit); former Phú Hòa (the same household) and
    # former Phú Thọ (1 household) likewise lacked some. Each now has a withheld line for
    # each of the eleven, none with a figure.
    published = {r["indicator"] for r in rows if r["period"] == "202512" and r["unit_code"] == "79"}
    assert published == {i.code for i in CATALOGUE}
    for code in ("25750", "F25750", "F25753"):
        lines = [r for r in rows if r["unit_code"] == code and r["period"] == "202512"]
        assert sorted(r["indicator"] for r in lines) == sorted(published)
        for r in lines:
            assert (r["status"], r["value"], r["numerator"], r["denominator"]) == (
                "suppressed", "", "", "",
            )  # fmt: skip
    # A withheld line says nothing of whether a figure was stored: all the withheld lines of
    # an indicator and period carry the same time.
    stamps: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        if r["status"] == "suppressed":
            stamps.setdefault((r["indicator"], r["period"]), set()).add(r["computed_at"])
    assert stamps
    assert all(len(times) == 1 for times in stamps.values())


@pytest.mark.parametrize("minimum", [1, 3, 20])
def test_csv_and_json_are_the_same_lines_in_the_same_order(built, client, settings, minimum):
    settings.OPEN_DATA_MIN_HOUSEHOLDS = minimum
    csv_rows = rows_of(client.get(CSV))
    body = json.loads(b"".join(client.get("/api/v1/open/79/values.json").streaming_content))
    as_text = [{k: "" if v is None else str(v) for k, v in r.items()} for r in body["data"]]
    assert csv_rows
    assert as_text == csv_rows


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
    row = find(body["data"], "79", "visits", "202512")
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
    assert "0% or 100%" in described["en"]
    assert "0% hoặc 100%" in described["vi"]
    assert "missing line" in described["en"]
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
