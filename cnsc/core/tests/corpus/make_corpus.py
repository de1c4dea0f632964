"""Remakes the committed binary files of the corpus (run from the repository root):

    .venv/bin/python -m cnsc.core.tests.corpus.make_corpus

Spreadsheets are written part by part (cnsc.core.tests.corpus), so that each can be what no
spreadsheet program would write; pictures with Pillow. The bzip2 bomb takes half a minute.
"""

from __future__ import annotations

import bz2
import io
import struct
import sys
import zipfile
import zlib

from PIL import Image, PngImagePlugin

from cnsc.core.tests.corpus import (
    CORPUS,
    SHARED_HEAD,
    SHARED_TAIL,
    SHEET_HEAD,
    SHEET_TAIL,
    header_row,
    inline_row,
    lying_sizes,
    part,
    raw_xlsx,
    skeleton,
    zip_archive,
)

LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 2 else "&lol;" * 10}">'
        for n in range(2, 10)
    )
    + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    "</sheetData></worksheet>"
)


def bzip2_bomb(gib: int = 2) -> bytes:
    """Shared strings of one text of ``gib`` GiB of "A", packed with bzip2 (which zip allows and
    Python's zipfile unpacks, though Excel never writes it): about a kilobyte."""
    compressor = bz2.BZ2Compressor(9)
    head, tail = SHARED_HEAD.encode(), SHARED_TAIL.encode()
    chunk = b"A" * (64 << 20)
    packed = compressor.compress(head)
    crc = zlib.crc32(head)
    for _ in range(gib * 16):
        packed += compressor.compress(chunk)
        crc = zlib.crc32(chunk, crc)
    packed += compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(tail, crc)
    size = len(head) + gib * 16 * len(chunk) + len(tail)
    return zip_archive(
        [
            *skeleton(),
            part("xl/worksheets/sheet1.xml", SHEET_HEAD + header_row() + SHEET_TAIL),
            ("xl/sharedStrings.xml", zipfile.ZIP_BZIP2, packed, size, crc),
        ]
    )


def gps_jpeg() -> bytes:
    """A photo as a phone takes it: EXIF with the place (GPS), the phone and its owner, and a
    comment holding markup."""
    image = Image.new("RGB", (640, 480), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[0x013B] = "Nguyễn Văn An"  # Artist
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (10.0, 58.0, 48.0), 3: "E", 4: (106.0, 39.0, 12.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"<script>alert(1)</script>")
    return out.getvalue()


def png_with_text() -> bytes:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Số CCCD 079085012345")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta><GPSLatitude>10.98</GPSLatitude></x:xmpmeta>")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pixel_bomb() -> bytes:
    """A PNG header claiming 100,000 by 100,000 pixels (ten gigapixels once decoded) over a few
    bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def files() -> dict[str, bytes]:
    broken = SHEET_HEAD + header_row() + inline_row(2, ("Khu phố 1", "An", "Nam", "1980", ""))
    return {
        "bomb_bzip2.xlsx": bzip2_bomb(),
        "laughs.xlsx": raw_xlsx(LAUGHS),
        "huge_row_number.xlsx": raw_xlsx(
            SHEET_HEAD
            + header_row()
            + '<row r="99999999999"><c r="A99999999999"><v>1</v></c></row>'
            + SHEET_TAIL
        ),
        # Cut off in the middle of the third row's markup.
        "broken_sheet.xlsx": raw_xlsx(broken + '<row r="3"><c r="A3" t="inl'),
        "lying_sizes.xlsx": lying_sizes(),
        "html.jpg": (
            b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
        ),
        "script.svg": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<script>alert(document.domain)</script><rect width="10" height="10"/></svg>'
        ),
        "gps.jpg": gps_jpeg(),
        "text_chunks.png": png_with_text(),
        "pixel_bomb.png": pixel_bomb(),
    }


def main() -> None:
    for name, data in files().items():
        (CORPUS / name).write_bytes(data)
        sys.stdout.write(f"{name}: {len(data):,} bytes\n")


if __name__ == "__main__":
    main()
