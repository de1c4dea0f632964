"""Reading generated PDFs back in tests: their text, and the QR codes printed on them.

Uses the development-only libraries pypdf and zxing-cpp; imported by tests only.
"""

from __future__ import annotations

import io
import unicodedata

import zxingcpp
from pypdf import PdfReader


def pdf_pages(content: bytes) -> int:
    return len(PdfReader(io.BytesIO(content)).pages)


def pdf_text(content: bytes) -> list[str]:
    """The text of each page, NFC-normalised (as Vietnamese text is stored)."""
    reader = PdfReader(io.BytesIO(content))
    return [unicodedata.normalize("NFC", page.extract_text() or "") for page in reader.pages]


def pdf_qr_codes(content: bytes) -> list[list[str]]:
    """For each page, what its QR codes read, decoded from the images as embedded."""
    reader = PdfReader(io.BytesIO(content))
    found: list[list[str]] = []
    for page in reader.pages:
        texts: list[str] = []
        for image in page.images:
            texts.extend(
                result.text
                for result in zxingcpp.read_barcodes(image.image)
                if result.format == zxingcpp.BarcodeFormat.QRCode
            )
        found.append(texts)
    return found


def pdf_title(content: bytes) -> str | None:
    metadata = PdfReader(io.BytesIO(content)).metadata
    return metadata.title if metadata else None
