from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from cnsc.geo.models import AdminUnit, Hierarchy, Level, UnitKind, UnitMapping
from cnsc.geo.services import units_load
from cnsc.geo.sources import UnitSourceError, default_paths, read_source

pytestmark = pytest.mark.django_db


def count(hierarchy: str, level: str) -> int:
    return AdminUnit.objects.filter(hierarchy=hierarchy, level=level).count()


def test_current_units_are_the_two_tier_lists():
    assert count(Hierarchy.CURRENT, Level.PROVINCE) == 34
    assert count(Hierarchy.CURRENT, Level.COMMUNE) == 3321
    assert count(Hierarchy.CURRENT, Level.DISTRICT) == 0
    assert AdminUnit.objects.current().filter(kind=UnitKind.SPECIAL_ZONE).count() == 13
    hcm = AdminUnit.objects.current().get(level=Level.PROVINCE, code="79")
    assert hcm.name == "Thành phố Hồ Chí Minh"
    assert hcm.kind == UnitKind.CITY
    assert AdminUnit.objects.current().filter(parent=hcm).count() == 168


def test_former_units_are_the_three_tier_lists():
    assert count(Hierarchy.FORMER, Level.PROVINCE) == 63
    assert count(Hierarchy.FORMER, Level.DISTRICT) == 696
    assert count(Hierarchy.FORMER, Level.COMMUNE) == 10035
    commune = AdminUnit.objects.former().get(level=Level.COMMUNE, code="25741")
    assert commune.name == "Phường Hiệp Thành"
    assert commune.parent.name == "Thành phố Thủ Dầu Một"
    assert commune.province.code == "74"
    assert str(commune.valid_to) == "2025-06-30"


def test_every_unit_knows_its_province_and_validity():
    assert not AdminUnit.objects.exclude(level=Level.PROVINCE).filter(province=None).exists()
    assert not AdminUnit.objects.current().exclude(valid_from="2025-07-01").exists()
    assert not AdminUnit.objects.former().exclude(valid_to="2025-06-30").exists()


def test_binh_duong_maps_entirely_into_ho_chi_minh_city():
    binh_duong = AdminUnit.objects.former().get(level=Level.PROVINCE, code="74")
    assert binh_duong.name == "Tỉnh Bình Dương"
    districts = AdminUnit.objects.former().filter(parent=binh_duong)
    assert districts.count() == 9
    assert set(districts.values_list("level", flat=True)) == {Level.DISTRICT}
    communes = AdminUnit.objects.former().filter(level=Level.COMMUNE, province=binh_duong)
    assert communes.count() == 91
    mappings = UnitMapping.objects.filter(former__in=communes)
    assert set(mappings.values_list("current__province__code", flat=True)) == {"79"}
    # Into the city's current communes (wards, communes), never a former unit or the city itself.
    assert set(mappings.values_list("current__hierarchy", "current__level")) == {
        (Hierarchy.CURRENT, Level.COMMUNE)
    }
    # Every former commune went somewhere, with exactly one main successor.
    assert mappings.values("former").distinct().count() == 91
    assert mappings.filter(is_main=True).count() == 91
    targets = mappings.values("current").distinct().count()
    assert 30 <= targets <= 40  # about 36 wards stand on Bình Dương's former land
    # Phường Phú Cường, the old centre of Thủ Dầu Một, went into today's Phường Thủ Dầu Một.
    phu_cuong = mappings.get(former__code="25747", is_main=True)
    assert phu_cuong.former.name == "Phường Phú Cường"
    assert phu_cuong.current.name == "Phường Thủ Dầu Một"


def test_a_split_commune_has_several_successors_and_one_main():
    split = UnitMapping.objects.values("former").annotate(n=Count("id")).filter(n__gt=1)
    assert split.count() == 471
    former_id = split.order_by("former")[0]["former"]
    rows = UnitMapping.objects.filter(former_id=former_id)
    assert rows.filter(is_main=True).count() == 1


def test_island_districts_without_communes_map_to_special_zones():
    con_dao = AdminUnit.objects.former().get(level=Level.DISTRICT, name="Huyện Côn Đảo")
    target = UnitMapping.objects.get(former=con_dao).current
    assert target.kind == UnitKind.SPECIAL_ZONE
    assert target.name == "Đặc khu Côn Đảo"


def test_names_are_nfc_and_searchable_without_diacritics():
    for name in AdminUnit.objects.values_list("name", flat=True)[:2000]:
        assert unicodedata.is_normalized("NFC", name)
    found = set(AdminUnit.objects.search("thu dau mot").values_list("name", flat=True))
    assert {"Phường Thủ Dầu Một", "Thành phố Thủ Dầu Một"} <= found
    assert AdminUnit.objects.search("THỦ DẦU MỘT").count() == len(found)
    # Decomposed input (as some phone keyboards send it) finds the same units.
    assert AdminUnit.objects.search(unicodedata.normalize("NFD", "Thủ Dầu Một")).count() == len(
        found
    )
    assert AdminUnit.objects.search("dong nai").filter(level=Level.PROVINCE).exists()


def test_a_second_load_writes_nothing():
    before = (AdminUnit.objects.count(), UnitMapping.objects.count())
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("load_units", stdout=out)
    # Only reads (and the savepoint of the command's transaction) reach the database.
    writes = [
        q["sql"][:120]
        for q in queries.captured_queries
        if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert writes == []
    assert "units: 0 created, 0 updated; mappings: 0 created, 0 updated, 0 removed" in (
        out.getvalue()
    )
    assert (AdminUnit.objects.count(), UnitMapping.objects.count()) == before


def test_a_changed_name_is_updated_and_nothing_else():
    unit = AdminUnit.objects.current().get(level=Level.COMMUNE, code="25747")
    AdminUnit.objects.filter(pk=unit.pk).update(name="Sai tên")
    result = units_load(source=read_source())
    assert (result.created, result.updated) == (0, 1)
    unit.refresh_from_db()
    assert unit.name == "Phường Thủ Dầu Một"


def _copy_source(tmp_path: Path) -> tuple[Path, Path]:
    db, converter = default_paths()
    shutil.copy(db, tmp_path / "dataset.db")
    shutil.copy(converter, tmp_path / "converter.json")
    return tmp_path / "dataset.db", tmp_path / "converter.json"


def test_a_unit_file_that_changed_shape_is_refused_and_changes_nothing(tmp_path):
    db, converter = _copy_source(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE admin_units RENAME COLUMN wardCode TO ward_code")
    before = AdminUnit.objects.count()
    with pytest.raises(CommandError, match=r"lacks column.*wardCode"):
        call_command("load_units", units_file=db, mapping_file=converter)
    assert AdminUnit.objects.count() == before


def test_a_malformed_row_is_named_and_changes_nothing(tmp_path):
    db, converter = _copy_source(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE admin_units SET wardCode = '2574' WHERE wardCode = '25747'")
        conn.execute("UPDATE admin_units SET ward = 'Phường Đổi Tên' WHERE wardCode = '25750'")
    with pytest.raises(UnitSourceError, match=r"admin_units row \d+: code '2574' is not 5 digits"):
        read_source(db, converter)
    with pytest.raises(CommandError, match=r"nothing changed: admin_units row \d+: code '2574'"):
        call_command("load_units", units_file=db, mapping_file=converter)
    assert AdminUnit.objects.current().get(level=Level.COMMUNE, code="25750").name == (
        "Phường Phú Lợi"
    )


def test_a_mapping_to_an_unknown_commune_is_refused(tmp_path):
    db, converter = _copy_source(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM admin_units WHERE wardCode = '25747'")
    with pytest.raises(UnitSourceError, match="unknown current commune"):
        read_source(db, converter)
