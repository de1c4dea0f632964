"""Reading generated PDFs back in tests: their text, and the QR codes printed on them.

Uses the development-only libraries pypdf and zxing-cpp; imported by tests only.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class TextRun:
    """One line drawn on a page: where it starts (points from the lower-left corner), its font
    (the name it was registered under, without the subset prefix) and size."""

    text: str
    x: float
    y: float
    font: str
    size: float


def pdf_text_runs(content: bytes, *, page: int = 0) -> list[TextRun]:
    """The lines of text of one page with their position, font and size."""
    runs: list[TextRun] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        text = unicodedata.normalize("NFC", text).strip()
        if not text or font is None:
            return
        name = str(font.get("/BaseFont", "")).lstrip("/").split("+")[-1]
        x = tm[4] * cm[0] + cm[4]
        y = tm[5] * cm[3] + cm[5]
        runs.append(TextRun(text=text, x=x, y=y, font=name, size=float(size)))

    PdfReader(io.BytesIO(content)).pages[page].extract_text(visitor_text=visit)
    return runs
