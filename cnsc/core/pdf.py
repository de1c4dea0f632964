"""Pieces every printed document shares: the Vietnamese font, paragraph styles, QR codes, and the
download response.

reportlab's built-in fonts have no Vietnamese letters, and it does no glyph composition: text must
be in NFC (precomposed letters such as "ệ") before it is drawn, or the marks land beside the
letter. Every helper here normalises what it is given.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import qrcode
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from fontpkg_be_vietnam_pro import ROOT as FONT_ROOT
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from cnsc.core.text import nfc, search_key

FONT = "BeVietnamPro"
FONT_BOLD = "BeVietnamPro-Bold"
FONT_ITALIC = "BeVietnamPro-Italic"
FONT_BOLD_ITALIC = "BeVietnamPro-BoldItalic"
FONT_SEMIBOLD = "BeVietnamPro-SemiBold"

_FONT_FILES = {
    FONT: "BeVietnamPro-Regular.ttf",
    FONT_BOLD: "BeVietnamPro-Bold.ttf",
    FONT_ITALIC: "BeVietnamPro-Italic.ttf",
    FONT_BOLD_ITALIC: "BeVietnamPro-BoldItalic.ttf",
    FONT_SEMIBOLD: "BeVietnamPro-SemiBold.ttf",
}

# The red of Vietnamese official documents, and a dark ink for text.
OFFICIAL_RED = colors.HexColor("#B3261E")
INK = colors.HexColor("#1C1B1F")
MUTED = colors.HexColor("#5F5A66")


@functools.cache
def register_fonts() -> None:
    """Register Be Vietnam Pro with reportlab once per process.

    The family mapping lets ``<b>`` and ``<i>`` inside a Paragraph switch to the bold and italic
    files instead of faking them.
    """
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_ROOT / "files" / filename)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD_ITALIC
    )


def paragraph_style(
    name: str,
    *,
    size: float = 10,
    leading: float | None = None,
    bold: bool = False,
    alignment: int = TA_LEFT,
    color: Any = INK,
    **extra: Any,
) -> ParagraphStyle:
    """A Paragraph style in Be Vietnam Pro. ``leading`` defaults to 1.3 × size, which leaves room
    for stacked marks such as "Ế" without touching the line above."""
    register_fonts()
    return ParagraphStyle(
        name,
        fontName=FONT_BOLD if bold else FONT,
        fontSize=size,
        leading=leading if leading is not None else round(size * 1.3, 1),
        alignment=alignment,
        textColor=color,
        **extra,
    )


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of plain text: names and titles typed by people are escaped, never markup."""
    return Paragraph(escape(nfc(text)), style)


def missing_glyphs(text: str, *, font: str = FONT) -> list[str]:
    """The characters of ``text`` that ``font`` cannot draw (they would print as empty boxes),
    each once, in the order they first appear; spaces and invisible characters aside. Be Vietnam
    Pro covers Latin and Vietnamese letters, not other scripts (Khmer) nor most symbols (→, ✓)."""
    register_fonts()
    glyphs = pdfmetrics.getFont(font).face.charToGlyph
    missing = (
        ch
        for ch in nfc(text)
        if ord(ch) not in glyphs
        and not ch.isspace()
        and unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return list(dict.fromkeys(missing))


def text_width(text: str, *, font: str, size: float) -> float:
    """Width in points of ``text`` set in ``font`` at ``size``, spaces at either end included
    (a piece measured to share a line with another keeps the space between them)."""
    register_fonts()
    return float(pdfmetrics.stringWidth(unicodedata.normalize("NFC", text), font, size))


def fit_font_size(
    text: str, *, font: str, size: float, max_width: float, min_size: float = 5
) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``max_width`` points (a long name
    shrinks rather than running off the card); never below ``min_size``."""
    width = text_width(text, font=font, size=size)
    if width <= max_width:
        return size
    return max(min_size, size * max_width / width)


def shortened(text: str, *, font: str, size: float, width: float) -> str:
    """``text`` cut after a word and ended with "…" so that it fits ``width`` points; whole
    when it fits."""
    if text_width(text, font=font, size=size) <= width:
        return text
    words = nfc(text).split(" ")
    while len(words) > 1:
        words.pop()
        cut = " ".join(words).rstrip(" ,;:·-–—") + "…"
        if text_width(cut, font=font, size=size) <= width:
            return cut
    letters = words[0]
    while letters and text_width(letters + "…", font=font, size=size) > width:
        letters = letters[:-1]
    return letters + "…"


def draw_text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    *,
    font: str = FONT,
    size: float = 10,
    color: Any = INK,
    max_width: float | None = None,
    align: str = "left",
) -> None:
    """One line of text at (x, y), shrunk to ``max_width`` when given. ``align`` is left, centre
    (x is the middle) or right (x is the right edge)."""
    register_fonts()
    text = nfc(text)
    if max_width is not None:
        size = fit_font_size(text, font=font, size=size, max_width=max_width)
    canvas.saveState()
    canvas.setFont(font, size)
    canvas.setFillColor(color)
    if align == "centre":
        canvas.drawCentredString(x, y, text)
    elif align == "right":
        canvas.drawRightString(x, y, text)
    else:
        canvas.drawString(x, y, text)
    canvas.restoreState()


def qr_image(data: str, *, box_size: int = 10, border: int = 4) -> Image.Image:
    """The QR code for ``data`` as a black-and-white image, ``box_size`` pixels per module with
    the standard quiet zone of four modules.

    Error correction M survives a scratched or slightly creased print, while keeping a verify URL
    in a small version (few, large modules) that cheap phone cameras read easily.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    image: Image.Image = code.make_image().get_image()
    return image.convert("1")


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw the QR code for ``data`` as a ``size``-point square with its lower-left corner at
    (x, y), quiet zone included.

    It is embedded as a bitmap of whole modules (not vector paths) so the exact picture on the
    page can be taken out of the PDF again and decoded, which the tests do.
    """
    image = qr_image(data)
    canvas.drawImage(ImageReader(image), x, y, width=size, height=size)


def pdf_response(content: bytes, *, filename: str, inline: bool = False) -> HttpResponse:
    """A PDF download. The file name is made ASCII so every browser and phone keeps it."""
    stem = search_key(filename.removesuffix(".pdf")).replace(" ", "-") or "document"
    response = HttpResponse(content, content_type="application/pdf")
    disposition = content_disposition_header(as_attachment=not inline, filename=f"{stem}.pdf")
    if disposition:
        response["Content-Disposition"] = disposition
    # Documents carry names: never kept by a shared cache or the browser's disk cache.
    response["Cache-Control"] = "no-store"
    return response


def new_canvas(buffer: io.BytesIO, *, pagesize: tuple[float, float], title: str) -> Canvas:
    """A canvas with the fonts registered and the document title and producer set, so the PDF
    reads as a CNSC document in a viewer's title bar rather than "untitled"."""
    register_fonts()
    canvas = Canvas(buffer, pagesize=pagesize, pageCompression=1)
    canvas.setTitle(nfc(title))
    canvas.setAuthor("CNSC")
    canvas.setCreator("CNSC")
    return canvas


def numbered_canvas(draw_footer: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A canvas class that knows the page count when it draws each page's footer: pages are
    held until the document is complete, then ``draw_footer(canvas, page, pages)`` runs on
    each before it is written. For ``doc.build(story, canvasmaker=...)``."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("pageCompression", 1)
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                draw_footer(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas
