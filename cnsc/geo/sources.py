"""Reads the official unit lists shipped in the pinned ``vietnamadminunits`` package (MIT).

The package carries both hierarchies (34 provinces / 3,321 communes from 1 July 2025; 63
provinces / 696 districts / 10,035 communes before) in an SQLite file, and the mapping from former
to current communes in a JSON file. Nothing here writes to our database: it returns plain rows,
or raises ``UnitSourceError`` naming the file and row whose shape it does not recognise.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cnsc.geo.models import Hierarchy, Level, UnitKind

PROVINCE_KINDS = {"Thành phố": UnitKind.CITY, "Tỉnh": UnitKind.PROVINCE}
DISTRICT_KINDS = {
    "Quận": UnitKind.URBAN_DISTRICT,
    "Huyện": UnitKind.RURAL_DISTRICT,
    "Thị xã": UnitKind.TOWN,
    "Thành phố": UnitKind.CITY,
}
COMMUNE_KINDS = {
    "Xã": UnitKind.COMMUNE,
    "Phường": UnitKind.WARD,
    "Thị trấn": UnitKind.TOWNSHIP,
    "Đặc khu": UnitKind.SPECIAL_ZONE,
}
CURRENT_COLUMNS = (
    "province",
    "provinceShort",
    "provinceCode",
    "provinceKey",
    "provinceLat",
    "provinceLon",
    "ward",
    "wardShort",
    "wardType",
    "wardCode",
    "wardKey",
    "wardLat",
    "wardLon",
)
FORMER_COLUMNS = (
    "province",
    "provinceShort",
    "provinceCode",
    "provinceKey",
    "provinceLat",
    "provinceLon",
    "district",
    "districtShort",
    "districtType",
    "districtCode",
    "districtKey",
    "districtLat",
    "districtLon",
    "ward",
    "wardShort",
    "wardType",
    "wardCode",
    "wardKey",
    "wardLat",
    "wardLon",
)


class UnitSourceError(Exception):
    """The unit files do not have the shape this loader knows."""


@dataclass(frozen=True)
class UnitRow:
    hierarchy: str
    level: str
    code: str
    name: str
    short_name: str
    kind: str
    parent_code: str | None  # code of the parent in the same hierarchy
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class MappingRow:
    former_level: str  # commune, or district for island districts without communes
    former_code: str
    current_code: str
    is_main: bool


@dataclass(frozen=True)
class UnitSource:
    units: list[UnitRow]
    mappings: list[MappingRow]


def default_paths() -> tuple[Path, Path]:
    data = resources.files("vietnamadminunits") / "data"
    return Path(str(data / "dataset.db")), Path(str(data / "converter_2025.json"))


def _kind(table: Mapping[str, str], value: Any, where: str) -> str:
    if value not in table:
        raise UnitSourceError(f"{where}: unknown unit type {value!r}")
    return table[value]


def _province_kind(name: str, where: str) -> str:
    for prefix, kind in PROVINCE_KINDS.items():
        if name.startswith(prefix + " "):
            return kind
    raise UnitSourceError(f"{where}: province name {name!r} starts with neither Tỉnh nor Thành phố")


def _code(value: Any, digits: int, where: str) -> str:
    if not isinstance(value, str) or len(value) != digits or not value.isdigit():
        raise UnitSourceError(f"{where}: code {value!r} is not {digits} digits")
    return value


def _rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> Iterator[sqlite3.Row]:
    present = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
    if not present:
        raise UnitSourceError(f"dataset.db: table {table} is missing")
    missing = [c for c in columns if c not in present]
    if missing:
        raise UnitSourceError(f"dataset.db: table {table} lacks column(s) {', '.join(missing)}")
    conn.row_factory = sqlite3.Row
    yield from conn.execute(f"SELECT DISTINCT {', '.join(columns)} FROM [{table}]")  # noqa: S608


def read_source(db_path: Path | None = None, converter_path: Path | None = None) -> UnitSource:
    default_db, default_converter = default_paths()
    db_path = db_path or default_db
    converter_path = converter_path or default_converter
    if not db_path.is_file():
        raise UnitSourceError(f"unit file not found: {db_path}")
    if not converter_path.is_file():
        raise UnitSourceError(f"mapping file not found: {converter_path}")

    units: dict[tuple[str, str, str], UnitRow] = {}
    current_by_key: dict[tuple[str, str], str] = {}
    former_by_key: dict[str, tuple[str, str]] = {}

    def add(row: UnitRow, where: str) -> None:
        key = (row.hierarchy, row.level, row.code)
        known = units.get(key)
        if known is not None and known != row:
            raise UnitSourceError(f"{where}: code {row.code} is given twice with different data")
        units[key] = row

    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        for n, r in enumerate(_rows(conn, "admin_units", CURRENT_COLUMNS), start=1):
            where = f"admin_units row {n}"
            p = _code(r["provinceCode"], 2, where)
            add(
                UnitRow(
                    Hierarchy.CURRENT,
                    Level.PROVINCE,
                    p,
                    r["province"],
                    r["provinceShort"],
                    _province_kind(r["province"], where),
                    None,
                    r["provinceLat"],
                    r["provinceLon"],
                ),
                where,
            )
            c = _code(r["wardCode"], 5, where)
            add(
                UnitRow(
                    Hierarchy.CURRENT,
                    Level.COMMUNE,
                    c,
                    r["ward"],
                    r["wardShort"],
                    _kind(COMMUNE_KINDS, r["wardType"], where),
                    p,
                    r["wardLat"],
                    r["wardLon"],
                ),
                where,
            )
            current_by_key[(r["provinceKey"], r["wardKey"])] = c

        for n, r in enumerate(_rows(conn, "admin_units_legacy", FORMER_COLUMNS), start=1):
            where = f"admin_units_legacy row {n}"
            p = _code(r["provinceCode"], 2, where)
            add(
                UnitRow(
                    Hierarchy.FORMER,
                    Level.PROVINCE,
                    p,
                    r["province"],
                    r["provinceShort"],
                    _province_kind(r["province"], where),
                    None,
                    r["provinceLat"],
                    r["provinceLon"],
                ),
                where,
            )
            d = _code(r["districtCode"], 3, where)
            add(
                UnitRow(
                    Hierarchy.FORMER,
                    Level.DISTRICT,
                    d,
                    r["district"],
                    r["districtShort"],
                    _kind(DISTRICT_KINDS, r["districtType"], where),
                    p,
                    r["districtLat"],
                    r["districtLon"],
                ),
                where,
            )
            old_key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
            if r["wardCode"] is None:
                # Island districts (Côn Đảo, Lý Sơn, ...) had no communes: the district itself
                # went into a special zone.
                former_by_key[old_key] = (Level.DISTRICT, d)
                continue
            c = _code(r["wardCode"], 5, where)
            add(
                UnitRow(
                    Hierarchy.FORMER,
                    Level.COMMUNE,
                    c,
                    r["ward"],
                    r["wardShort"],
                    _kind(COMMUNE_KINDS, r["wardType"], where),
                    d,
                    r["wardLat"],
                    r["wardLon"],
                ),
                where,
            )
            former_by_key[old_key] = (Level.COMMUNE, c)

    mappings = _read_mappings(converter_path, current_by_key, former_by_key)
    return UnitSource(units=list(units.values()), mappings=mappings)


def _read_mappings(
    path: Path,
    current_by_key: dict[tuple[str, str], str],
    former_by_key: dict[str, tuple[str, str]],
) -> list[MappingRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        undivided = data["DICT_PROVINCE_WARD_NO_DIVIDED"]
        divided = data["DICT_PROVINCE_WARD_DIVIDED"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnitSourceError(f"{path.name}: not the expected mapping file ({exc})") from None

    out: dict[tuple[str, str], MappingRow] = {}

    def add(province_key: str, new_key: str, old_key: str, is_main: bool) -> None:
        where = f"{path.name}: {province_key}/{new_key} ← {old_key}"
        current = current_by_key.get((province_key, new_key))
        if current is None:
            raise UnitSourceError(f"{where}: unknown current commune")
        former = former_by_key.get(old_key)
        if former is None:
            raise UnitSourceError(f"{where}: unknown former unit")
        out[(former[1], current)] = MappingRow(former[0], former[1], current, is_main)

    try:
        for province_key, wards in undivided.items():
            for new_key, old_keys in wards.items():
                for old_key in old_keys:
                    add(province_key, new_key, old_key, True)
        for province_key, olds in divided.items():
            for old_key, parts in olds.items():
                for part in parts:
                    add(province_key, part["newWardKey"], old_key, bool(part["isDefaultNewWard"]))
    except (AttributeError, KeyError, TypeError) as exc:
        raise UnitSourceError(f"{path.name}: entry of unexpected shape ({exc})") from None
    return list(out.values())
