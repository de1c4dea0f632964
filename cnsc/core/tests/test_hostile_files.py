"""Hostile spreadsheets against the shared reader (cnsc.core.spreadsheets): zip bombs refused
from their listing, quickly and in little memory; broken or out-of-limits sheets and .csv files
stop with a message for the official; BOMs and decomposed letters read as the template's
headers. The imports built on the reader are attacked in their own apps' tests."""

from __future__ import annotations

import io
import time
import tracemalloc
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.utils import translation

from cnsc.core.spreadsheets import (
    MAX_COLUMNS,
    MAX_CSV_LINE,
    ImportFileError,
    header_key,
    open_sheets,
)
from cnsc.core.tests.corpus import (
    CORPUS,
    HEADERS,
    SHEET_HEAD,
    SHEET_TAIL,
    deflate_bomb,
    header_row,
    inline_row,
    part,
    raw_xlsx,
    skeleton,
    zip_archive,
)

LIMIT = 100 * 1024 * 1024


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return deflate_bomb()


@contextmanager
def bounded(seconds: float = 5.0, megabytes: int | None = 64) -> Iterator[None]:
    """The block runs within ``seconds`` and allocates at most ``megabytes`` at its peak (not
    measured when None: tracing slows a long loop tenfold)."""
    if megabytes is not None:
        tracemalloc.start()
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] if megabytes is not None else 0
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    if megabytes is not None:
        assert peak < megabytes * 1024 * 1024, f"peaked at {peak / 1_048_576:.0f} MB"


def read_all(data: bytes) -> list[tuple[str, dict[str, int], list[tuple[int, Any]]]]:
    """Every sheet and every row, as an import would read them."""
    upload = io.BytesIO(data)
    with open_sheets(upload, size=len(data), limit=LIMIT) as sheets:
        return [(s.name, s.headers, list(s.rows)) for s in sheets]


def refused(data: bytes, fragment: str) -> None:
    with pytest.raises(ImportFileError) as error:
        read_all(data)
    assert fragment in str(error.value)


# --- Zip bombs and archives Excel never writes ------------------------------------------------


def test_a_deflate_bomb_is_refused_from_its_listing(bomb):
    # About a megabyte that unpacks to a GiB of shared strings, which openpyxl would hold whole.
    assert len(bomb) < 2 * 1024 * 1024
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) > 1 << 30
    with bounded():
        refused(bomb, "unpacks to far more data")


def test_a_bzip2_bomb_of_a_few_kilobytes_is_refused():
    data = (CORPUS / "bomb_bzip2.xlsx").read_bytes()
    assert len(data) < 8 * 1024
    listing = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert sum(i.file_size for i in listing) > 2 << 30
    with bounded(seconds=1):
        refused(data, "not a spreadsheet")


def test_a_part_packed_another_way_than_deflate_is_refused():
    raw = (SHEET_HEAD + header_row() + SHEET_TAIL).encode()
    data = zip_archive(
        [
            *skeleton(),
            ("xl/worksheets/sheet1.xml", zipfile.ZIP_LZMA, raw, len(raw), zlib.crc32(raw)),
        ]
    )
    refused(data, "not a spreadsheet")


def test_an_archive_of_thousands_of_parts_is_refused():
    filler = [part(f"xl/media/p{n}.xml", "<a/>") for n in range(1200)]
    data = zip_archive(
        [*skeleton(), part("xl/worksheets/sheet1.xml", SHEET_HEAD + SHEET_TAIL), *filler]
    )
    refused(data, "not a spreadsheet")


def test_a_listing_that_understates_sizes_fails_its_checksum_not_the_server():
    refused((CORPUS / "lying_sizes.xlsx").read_bytes(), "not a spreadsheet")


# --- Sheets openpyxl cannot read, or that go beyond Excel's limits ----------------------------


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        # Entities that expand a billionfold: expat's amplification limit stops them.
        ("laughs.xlsx", "not a spreadsheet"),
        # Markup cut off after the second row: found only while the rows are read.
        ("broken_sheet.xlsx", "not a spreadsheet"),
        # A row numbered 99,999,999,999: read-only openpyxl would yield every empty row before.
        ("huge_row_number.xlsx", "more rows or columns than Excel allows"),
    ],
)
def test_broken_and_endless_sheets_stop_with_a_message(name, fragment):
    with bounded(seconds=10, megabytes=None):
        refused((CORPUS / name).read_bytes(), fragment)


def test_a_row_wider_than_excel_allows_is_refused():
    cells = "<c><v>1</v></c>" * (MAX_COLUMNS + 1)
    data = raw_xlsx(SHEET_HEAD + header_row() + f'<row r="2">{cells}</row>' + SHEET_TAIL)
    with bounded(seconds=10):
        refused(data, "more rows or columns than Excel allows")


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="A2" t="n"><v>not a number</v></c>',
        '<c r="A2" t="d"><v>not a date</v></c>',
        '<c r="A2" t="s"><v>99</v></c>',  # a shared string that does not exist
        '<c r="ZZZZ2"><v>1</v></c>',  # a column past XFD
        '<c r="2A"><v>1</v></c>',
    ],
)
def test_cells_openpyxl_cannot_read_stop_with_a_message(cell):
    refused(raw_xlsx(SHEET_HEAD + header_row() + f'<row r="2">{cell}</row>' + SHEET_TAIL), "not a")


def test_a_formula_cell_reads_as_its_cached_value_never_as_the_formula():
    row = (
        '<row r="2"><c r="A2" t="str"><f>HYPERLINK("http://evil.example","Click")</f>'
        "<v>Click</v></c>"
        "<c r=\"B2\"><f>cmd|' /C calc'!A0</f></c></row>"
    )
    [(_name, _headers, rows)] = read_all(raw_xlsx(SHEET_HEAD + header_row() + row + SHEET_TAIL))
    assert rows == [(2, ("Click", None))]


# --- .csv ---------------------------------------------------------------------------------------


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode()


def test_a_row_of_100000_columns_is_read_in_little_time_and_memory():
    data = csv_bytes(",".join(HEADERS), ",".join(["x"] * 100_000))
    with bounded(seconds=5, megabytes=48):
        [(_name, headers, rows)] = read_all(data)
    assert len(headers) == len(HEADERS)
    assert len(rows[0][1]) == 100_000


def test_a_line_of_millions_of_commas_stops_before_it_is_split():
    data = csv_bytes(",".join(HEADERS), "," * (MAX_CSV_LINE + 10))
    with bounded(seconds=5, megabytes=32):
        refused(data, "longer than")


def test_a_field_over_the_csv_limit_and_a_nul_byte_are_messages_not_errors():
    refused(csv_bytes(",".join(HEADERS), "a," + "b" * 200_000), "not a spreadsheet")
    refused(csv_bytes(",".join(HEADERS), *["a,b,c,d,e"] * 2000, "a,\x00,c"), "not a spreadsheet")


def test_a_csv_that_stops_being_utf8_half_way_is_a_message():
    data = csv_bytes(",".join(HEADERS), *["Khu phố 1,An,Nam,1980,"] * 3000)
    data += b"Khu ph\xf4 1,B\xecnh,Nam,1980,\r\n"  # Windows-1258, as an old Excel saves it
    refused(data, "UTF-8")


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("bom", [False, True])
def test_headers_read_the_same_with_a_bom_and_decomposed_letters(form, bom):
    headers = [unicodedata.normalize(form, h) for h in HEADERS]
    [(_name, found, _rows)] = read_all(csv_bytes(";".join(headers), bom=bom))
    assert found == {header_key(h): i for i, h in enumerate(HEADERS)}


def test_xlsx_headers_read_the_same_when_decomposed():
    decomposed = tuple(unicodedata.normalize("NFD", h) for h in HEADERS)
    data = raw_xlsx(SHEET_HEAD + inline_row(1, decomposed) + SHEET_TAIL)
    [(_name, found, _rows)] = read_all(data)
    assert found == {header_key(h): i for i, h in enumerate(HEADERS)}
