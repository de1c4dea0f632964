"""Hostile inputs kept for the tests: files that once crashed, hung or leaked something, or that
an attacker would try. Small binary files are committed, made by ``make_corpus.py`` (run it to
remake them); files that would be large are built at test time by the functions here."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"
SHARED_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    'uniqueCount="1"><si><t>'
)
SHARED_TAIL = "</t></si></sst>"
# One header row that both imports recognise: the required columns of the roster's members
# sheet and of the household list. A file that gets past its header reaches the row loops.
HEADERS = ("Thôn/Khu phố", "Họ và tên", "Giới tính", "Năm sinh", "Số điện thoại")


def inline_row(number: int, values: tuple[str, ...]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def header_row() -> str:
    return inline_row(1, HEADERS)


def zip_archive(parts: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip archive written by hand from (name, method, packed bytes, unpacked size, CRC-32)
    for each part, so that a part can claim anything; sizes under 4 GiB (no zip64)."""
    out = io.BytesIO()
    directory = io.BytesIO()
    for name, method, packed, size, crc in parts:
        encoded = name.encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(packed),
                size,
                len(encoded),
                0,
            )
        )
        out.write(encoded)
        out.write(packed)
        directory.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(packed),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        directory.write(encoded)
    start = out.tell()
    listing = directory.getvalue()
    out.write(listing)
    out.write(
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(listing), start, 0
        )
    )
    return out.getvalue()


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def part(name: str, data: str | bytes) -> tuple[str, int, bytes, int, int]:
    raw = data.encode() if isinstance(data, str) else data
    return (name, zipfile.ZIP_DEFLATED, deflated(raw), len(raw), zlib.crc32(raw))


def skeleton() -> list[tuple[str, int, bytes, int, int]]:
    return [
        part("[Content_Types].xml", CONTENT_TYPES),
        part("_rels/.rels", ROOT_RELS),
        part("xl/workbook.xml", WORKBOOK),
        part("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
    ]


def raw_xlsx(sheet_xml: str, shared_xml: str = SHARED_HEAD + SHARED_TAIL) -> bytes:
    """An .xlsx of one sheet written part by part, so that each part can be anything."""
    return zip_archive(
        [
            *skeleton(),
            part("xl/worksheets/sheet1.xml", sheet_xml),
            part("xl/sharedStrings.xml", shared_xml),
        ]
    )


def deflate_bomb(gib: int = 1) -> bytes:
    """An .xlsx of about ``gib`` MB whose shared strings unpack to ``gib`` GiB: one text of the
    letter A, which openpyxl would hold in memory whole. Deflate packs at most about 1,000 to
    1, so this one is built at test time rather than kept: the same flushed block of a MiB of
    "A", repeated (a full flush makes each block stand alone)."""
    mib = b"A" * (1 << 20)
    count = gib * 1024
    head, tail = SHARED_HEAD.encode(), SHARED_TAIL.encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    packed += block * count + compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + count * len(mib) + len(tail)
    return zip_archive(
        [
            *skeleton(),
            part("xl/worksheets/sheet1.xml", SHEET_HEAD + header_row() + SHEET_TAIL),
            ("xl/sharedStrings.xml", zipfile.ZIP_DEFLATED, packed, size, crc),
        ]
    )


def lying_sizes() -> bytes:
    """An .xlsx whose listing says its sheet unpacks to 200 bytes when it unpacks to far more:
    zipfile stops at the declared size and the checksum fails."""
    rows = "".join(
        inline_row(n, ("Khu phố 1", f"Người {n}", "Nam", "1980", "")) for n in range(2, 500)
    )
    sheet = (SHEET_HEAD + header_row() + rows + SHEET_TAIL).encode()
    return zip_archive(
        [
            *skeleton(),
            (
                "xl/worksheets/sheet1.xml",
                zipfile.ZIP_DEFLATED,
                deflated(sheet),
                200,
                zlib.crc32(sheet),
            ),
            part("xl/sharedStrings.xml", SHARED_HEAD + SHARED_TAIL),
        ]
    )
