"""A handbook written in CNSC, printed as an A5 booklet in Be Vietnam Pro.

A5 is half an A4 sheet: it prints two to a page, folds into a booklet and reads well on a phone.
The first page carries a header band (who publishes it) and the title; every page a footer with
the title, version and page number. Headings become PDF bookmarks, so a phone's PDF viewer
offers a table of contents.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from PIL import Image as PILImage
from PIL import ImageOps
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from cnsc.core import pdf
from cnsc.core.text import nfc
from cnsc.training.models import BlockKind, Handbook, HandbookBlock, Language

A5 = (148 * mm, 210 * mm)
MARGIN_X = 14 * mm
MARGIN_TOP = 14 * mm
MARGIN_BOTTOM = 16 * mm
BAND_HEIGHT = 17 * mm
FOOTER_SIZE = 7.5
GOLD = colors.HexColor("#F2C94C")
RULE = colors.HexColor("#DDD6CC")
# A picture never takes more than about half a page, so its caption and some text fit beside.
IMAGE_MAX_HEIGHT = 88 * mm
# A heading never ends a page: it starts a new one unless it fits with this many lines of what
# follows. Only the heading and those lines are kept together; the rest flows on, so a long list
# or paragraph after a heading does not leave half a page empty.
LINES_AFTER_HEADING = 3
# 300 dpi across the text width is as sharp as a print gets; more only makes the file heavier
# for residents downloading on a weak signal.
IMAGE_MAX_PIXELS_WIDE = 1400


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    pages: int


def document_language(handbook: Handbook) -> str:
    """The labels printed around the content follow the handbook's language where CNSC has
    them (Vietnamese, English); handbooks in other languages get Vietnamese labels."""
    return "en" if handbook.language == Language.ENGLISH else "vi"


def _italic(style: ParagraphStyle) -> ParagraphStyle:
    style.fontName = pdf.FONT_ITALIC
    return style


def _styles() -> dict[str, Any]:
    return {
        "title": pdf.paragraph_style("hb-title", size=17, leading=22, bold=True, spaceAfter=3),
        "meta": pdf.paragraph_style("hb-meta", size=8.5, color=pdf.MUTED, spaceAfter=2),
        "note": _italic(pdf.paragraph_style("hb-note", size=8.5, color=pdf.MUTED, spaceAfter=2)),
        "heading": pdf.paragraph_style(
            "hb-heading",
            size=12.5,
            leading=16.5,
            bold=True,
            color=pdf.OFFICIAL_RED,
            spaceBefore=9,
            spaceAfter=4,
        ),
        "body": pdf.paragraph_style("hb-body", size=10, leading=14.5, spaceAfter=5),
        "step": pdf.paragraph_style("hb-step", size=10, leading=14.5),
        "step_number": pdf.paragraph_style(
            "hb-step-number", size=10, leading=14.5, bold=True, color=pdf.OFFICIAL_RED
        ),
        "caption": _italic(
            pdf.paragraph_style(
                "hb-caption",
                size=8.5,
                leading=11.5,
                color=pdf.MUTED,
                alignment=TA_CENTER,
                spaceBefore=2,
                spaceAfter=6,
            )
        ),
    }


def _lines_paragraph(text: str, style: Any) -> Paragraph:
    """Typed text with its line breaks, escaped (never read as markup)."""
    return Paragraph("<br/>".join(escape(nfc(line)) for line in text.split("\n")), style)


class _Heading(Paragraph):
    """A heading that adds itself to the PDF's outline when drawn."""

    def __init__(self, text: str, style: Any, key: str) -> None:
        super().__init__(escape(nfc(text)), style)
        self.outline_text = nfc(text)
        self.outline_key = key

    def draw(self) -> None:
        super().draw()
        self.canv.bookmarkPage(self.outline_key)
        self.canv.addOutlineEntry(self.outline_text, self.outline_key, level=0)


def _picture(block: HandbookBlock, max_width: float) -> Image:
    try:
        with block.image.open("rb") as stored, PILImage.open(stored) as original:
            source_format = original.format
            # Phone photos are stored sideways with an orientation tag reportlab ignores.
            picture = ImageOps.exif_transpose(original)
            if picture.mode in ("RGBA", "LA", "P"):
                picture = picture.convert("RGBA")
                flat = PILImage.new("RGB", picture.size, "white")
                flat.paste(picture, mask=picture.getchannel("A"))
                picture = flat
            elif picture.mode != "RGB":
                picture = picture.convert("RGB")
            if picture.width > IMAGE_MAX_PIXELS_WIDE:
                scaled = round(picture.height * IMAGE_MAX_PIXELS_WIDE / picture.width)
                picture = picture.resize(
                    (IMAGE_MAX_PIXELS_WIDE, scaled), PILImage.Resampling.LANCZOS
                )
            buffer = io.BytesIO()
            if source_format == "JPEG":
                picture.save(buffer, "JPEG", quality=85, optimize=True)
            else:
                picture.save(buffer, "PNG", optimize=True)
    except (OSError, ValueError):
        raise ValidationError(
            _("A picture of this handbook cannot be read any more. Upload it again.")
        ) from None
    buffer.seek(0)
    ratio = picture.height / picture.width
    width: float = max_width
    height: float = width * ratio
    if height > IMAGE_MAX_HEIGHT:
        height = IMAGE_MAX_HEIGHT
        width = height / ratio
    return Image(buffer, width=width, height=height)


def _steps(block: HandbookBlock, styles: dict[str, Any], width: float) -> Table:
    number_width = 8 * mm
    rows = [
        [
            Paragraph(f"{index}.", styles["step_number"]),
            _lines_paragraph(step, styles["step"]),
        ]
        for index, step in enumerate(block.steps, start=1)
    ]
    table = Table(rows, colWidths=[number_width, width - number_width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _block_flowables(block: HandbookBlock, styles: dict[str, Any], width: float) -> list[Flowable]:
    if block.kind == BlockKind.HEADING:
        return [_Heading(block.text, styles["heading"], key=f"h{block.position}")]
    if block.kind == BlockKind.STEPS:
        return [_steps(block, styles, width), Spacer(1, 2 * mm)]
    if block.kind == BlockKind.IMAGE:
        parts: list[Flowable] = [Spacer(1, 1 * mm), _picture(block, width)]
        if block.text:
            parts.append(_lines_paragraph(block.text, styles["caption"]))
        else:
            parts.append(Spacer(1, 4 * mm))
        return parts
    return [_lines_paragraph(block.text, styles["body"])]


def _height(flowables: list[Flowable], width: float) -> float:
    total = 0.0
    for flowable in flowables:
        _w, height = flowable.wrap(width, A5[1])
        total += height + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    return total


def _lead(flowable: Flowable, width: float) -> float:
    """The height of the first few lines of ``flowable``: a paragraph's first
    ``LINES_AFTER_HEADING`` lines, a list's first step (a step is never split), anything else
    whole."""
    _w, height = flowable.wrap(width, A5[1])
    if isinstance(flowable, Table):
        return float(flowable._rowHeights[0])
    if isinstance(flowable, Paragraph):
        return float(min(height, LINES_AFTER_HEADING * flowable.style.leading))
    return float(height)


def _story(handbook: Handbook, styles: dict[str, Any], width: float) -> list[Flowable]:
    meta = " · ".join(
        [
            handbook.get_topic_display(),
            _("For %(audience)s") % {"audience": handbook.get_audience_display().lower()},
            _("Version %(version)d") % {"version": handbook.version},
        ]
    )
    story: list[Flowable] = [
        Spacer(1, BAND_HEIGHT - MARGIN_TOP + 7 * mm),
        pdf.paragraph(handbook.title, styles["title"]),
        pdf.paragraph(meta, styles["meta"]),
    ]
    if handbook.version > 1 and handbook.change_note:
        story.append(
            pdf.paragraph(
                _("What changed: %(note)s") % {"note": handbook.change_note}, styles["note"]
            )
        )
    story += [
        Spacer(1, 2 * mm),
        HRFlowable(width="100%", thickness=0.6, color=RULE, spaceAfter=4 * mm),
    ]
    blocks = list(handbook.blocks.order_by("position"))
    pieces = [_block_flowables(block, styles, width) for block in blocks]
    index = 0
    while index < len(blocks):
        block, parts = blocks[index], pieces[index]
        following = pieces[index + 1] if index + 1 < len(blocks) else []
        if block.kind == BlockKind.HEADING and following:
            if blocks[index + 1].kind == BlockKind.IMAGE:
                # A picture cannot be split: its heading goes with it, onto the next page
                # if need be.
                story.append(KeepTogether([*parts, *following]))
                index += 2
                continue
            story.append(CondPageBreak(_height(parts, width) + _lead(following[0], width)))
            story.extend(parts)
        elif block.kind == BlockKind.IMAGE:
            story.append(KeepTogether(parts))
        else:
            story.extend(parts)
        index += 1
    return story


def _numbered_canvas(footer_left: Callable[[float], str], page_label: str) -> type[Canvas]:
    """The handbook's canvas: each footer says "page n of N" (pdf.numbered_canvas).
    ``footer_left(width)``: the footer's text for a width."""

    def footer(canvas: Canvas, page: int, total: int) -> None:
        page_w, _page_h = canvas._pagesize
        y = MARGIN_BOTTOM - 8 * mm
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, y + 4 * mm, page_w - MARGIN_X, y + 4 * mm)
        canvas.restoreState()
        label = page_label % {"page": page, "pages": total}
        label_width = pdf.text_width(label, font=pdf.FONT, size=FOOTER_SIZE)
        room = page_w - 2 * MARGIN_X - label_width - 6 * mm
        pdf.draw_text(
            canvas,
            MARGIN_X,
            y,
            footer_left(room),
            size=FOOTER_SIZE,
            color=pdf.MUTED,
            max_width=room,
        )
        pdf.draw_text(
            canvas,
            page_w - MARGIN_X,
            y,
            label,
            size=FOOTER_SIZE,
            color=pdf.MUTED,
            align="right",
        )

    return pdf.numbered_canvas(footer)


def _first_page(issuer: str, organisation: str) -> Any:
    def draw(canvas: Canvas, doc: Any) -> None:
        page_w, page_h = A5
        canvas.saveState()
        canvas.setFillColor(pdf.OFFICIAL_RED)
        canvas.rect(0, page_h - BAND_HEIGHT, page_w, BAND_HEIGHT, stroke=0, fill=1)
        canvas.setFillColor(GOLD)
        canvas.rect(0, page_h - BAND_HEIGHT - 0.9 * mm, page_w, 0.9 * mm, stroke=0, fill=1)
        canvas.restoreState()
        pdf.draw_text(
            canvas,
            MARGIN_X,
            page_h - 7.2 * mm,
            organisation.upper(),
            font=pdf.FONT_BOLD,
            size=9,
            color=colors.white,
            max_width=page_w - 2 * MARGIN_X,
        )
        pdf.draw_text(
            canvas,
            MARGIN_X,
            page_h - 12.4 * mm,
            issuer,
            font=pdf.FONT,
            size=8,
            color=colors.white,
            max_width=page_w - 2 * MARGIN_X,
        )

    return draw


def render_handbook(handbook: Handbook) -> RenderedPdf:
    """The handbook's blocks as an A5 PDF. ValidationError when a picture cannot be read."""
    with translation.override(document_language(handbook)):
        pdf.register_fonts()
        styles = _styles()
        width = A5[0] - 2 * MARGIN_X
        story = _story(handbook, styles, width)
        unit = handbook.unit
        province = unit.province
        issuer = unit.name if province is None else f"{unit.name} · {province.name}"
        when = handbook.published_at or timezone.now()
        footer_template = _("%(title)s · version %(version)d · %(date)s")
        footer_values = {
            "version": handbook.version,
            "date": date_format(timezone.localtime(when), "d/m/Y"),
        }

        def footer_left(width: float) -> str:
            # A long title is cut short: the version and date always show, at a readable size.
            rest = footer_template % {**footer_values, "title": ""}
            room = width - pdf.text_width(rest, font=pdf.FONT, size=FOOTER_SIZE)
            title = pdf.shortened(nfc(handbook.title), font=pdf.FONT, size=FOOTER_SIZE, width=room)
            return footer_template % {**footer_values, "title": title}

        page_label = _("Page %(page)d of %(pages)d")
        buffer = io.BytesIO()
        doc = BaseDocTemplate(
            buffer,
            pagesize=A5,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=nfc(handbook.title),
            author="CNSC",
            creator="CNSC",
            subject=handbook.get_topic_display(),
        )
        # No side padding in the frame: the text, lists and pictures use exactly the width they
        # are laid out for, flush with the band's and the footer's left and right edges.
        frame = Frame(
            MARGIN_X,
            MARGIN_BOTTOM,
            width,
            A5[1] - MARGIN_TOP - MARGIN_BOTTOM,
            leftPadding=0,
            rightPadding=0,
            id="text",
        )
        doc.addPageTemplates(
            [
                PageTemplate(
                    id="first",
                    frames=[frame],
                    onPage=_first_page(issuer, _("Community digital technology teams")),
                    autoNextPageTemplate="later",
                ),
                PageTemplate(id="later", frames=[frame]),
            ]
        )
        doc.build(story, canvasmaker=_numbered_canvas(footer_left, page_label))
    return RenderedPdf(content=buffer.getvalue(), pages=doc.page)
