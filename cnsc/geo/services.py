from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from cnsc.core.text import nfc, search_key
from cnsc.geo.models import (
    LAST_FORMER_DAY,
    REFORM_DATE,
    AdminUnit,
    Hierarchy,
    Level,
    UnitMapping,
)
from cnsc.geo.sources import UnitRow, UnitSource

UNIT_FIELDS = (
    "name",
    "short_name",
    "kind",
    "parent_id",
    "province_id",
    "valid_from",
    "valid_to",
    "latitude",
    "longitude",
    "search_name",
)
LEVEL_ORDER = (Level.PROVINCE, Level.DISTRICT, Level.COMMUNE)


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    mappings_created: int = 0
    mappings_updated: int = 0
    mappings_deleted: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.created,
                self.updated,
                self.mappings_created,
                self.mappings_updated,
                self.mappings_deleted,
            )
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


@transaction.atomic
def units_load(*, source: UnitSource) -> LoadResult:
    """Bring the unit tables in line with ``source``: create what is missing, update what changed,
    touch nothing else. A second run with the same source writes nothing.

    Reference data is written in bulk, so it gets no per-row change history; the source's
    version (the pinned package) is its history.
    """
    result = LoadResult()
    existing = {(u.hierarchy, u.level, u.code): u for u in AdminUnit.objects.all()}

    by_level: dict[str, list[UnitRow]] = {level: [] for level in LEVEL_ORDER}
    for row in source.units:
        by_level[row.level].append(row)

    parent_level = {Level.DISTRICT: Level.PROVINCE, Level.COMMUNE: Level.DISTRICT}
    for level in LEVEL_ORDER:
        to_create: list[AdminUnit] = []
        to_update: list[AdminUnit] = []
        for row in by_level[level]:
            parent_id = None
            province_id = None
            if row.parent_code is not None:
                p_level = (
                    Level.PROVINCE
                    if row.hierarchy == Hierarchy.CURRENT
                    else parent_level[Level(row.level)]
                )
                parent = existing[(row.hierarchy, p_level, row.parent_code)]
                parent_id = parent.pk
                province_id = parent.province_id or parent.pk
            current = row.hierarchy == Hierarchy.CURRENT
            values = {
                "name": nfc(row.name),
                "short_name": nfc(row.short_name),
                "kind": row.kind,
                "parent_id": parent_id,
                "province_id": province_id,
                "valid_from": REFORM_DATE if current else None,
                "valid_to": None if current else LAST_FORMER_DAY,
                "latitude": _round(row.latitude),
                "longitude": _round(row.longitude),
            }
            values["search_name"] = search_key(f"{values['name']} {row.code}")
            key = (row.hierarchy, row.level, row.code)
            unit = existing.get(key)
            if unit is None:
                unit = AdminUnit(hierarchy=row.hierarchy, level=row.level, code=row.code, **values)
                to_create.append(unit)
            elif any(getattr(unit, f) != v for f, v in values.items()):
                for f, v in values.items():
                    setattr(unit, f, v)
                to_update.append(unit)
        AdminUnit.objects.bulk_create(to_create, batch_size=2000)
        if to_update:
            AdminUnit.objects.bulk_update(to_update, UNIT_FIELDS, batch_size=2000)
        result.created += len(to_create)
        result.updated += len(to_update)
        # PostgreSQL and SQLite (3.35+) both return the new primary keys from bulk_create.
        existing.update({(u.hierarchy, u.level, u.code): u for u in to_create})

    ids = {key: unit.pk for key, unit in existing.items()}
    _load_mappings(source, ids, result)
    return result


def _load_mappings(
    source: UnitSource, ids: dict[tuple[str, str, str], int], result: LoadResult
) -> None:
    wanted: dict[tuple[int, int], bool] = {}
    for m in source.mappings:
        former = ids[(Hierarchy.FORMER, m.former_level, m.former_code)]
        current = ids[(Hierarchy.CURRENT, Level.COMMUNE, m.current_code)]
        wanted[(former, current)] = m.is_main
    have = {(m.former_id, m.current_id): m for m in UnitMapping.objects.all()}

    stale = [m.pk for key, m in have.items() if key not in wanted]
    if stale:
        UnitMapping.objects.filter(pk__in=stale).delete()
    changed = [m for key, m in have.items() if key in wanted and m.is_main != wanted[key]]
    # Clear the flag first so the one-main-successor constraint holds at every statement.
    if changed:
        UnitMapping.objects.filter(pk__in=[m.pk for m in changed]).update(is_main=False)
        for mapping in changed:
            mapping.is_main = wanted[(mapping.former_id, mapping.current_id)]
        UnitMapping.objects.bulk_update([m for m in changed if m.is_main], ["is_main"])
    new = [
        UnitMapping(former_id=f, current_id=c, is_main=main)
        for (f, c), main in wanted.items()
        if (f, c) not in have
    ]
    UnitMapping.objects.bulk_create(new, batch_size=5000)
    result.mappings_created = len(new)
    result.mappings_updated = len(changed)
    result.mappings_deleted = len(stale)
