"""A dashboard table as .xlsx, and the monthly report of a province or commune as a PDF.

Both are built from the same ``Page`` the screen shows. Figures only, never personal data; the
spreadsheet's text cells still cannot run as formulas (a hamlet's name is typed by people).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import (
    Table as PdfTable,
)

from cnsc.core import pdf
from cnsc.core.spreadsheets import safe_cell
from cnsc.core.text import search_key

from .charts import Series, series_of
from .indicators import Indicator
from .pages import Page, Table
from .selectors import format_count


def _filename(page: Page, what: str, extension: str) -> str:
    stem = search_key(f"{page.ref.code} {what} {page.period.code}").replace(" ", "-")
    return f"cnsc-{stem}.{extension}"


# --- .xlsx ------------------------------------------------------------------------------------


def table_workbook(page: Page, table: Table) -> tuple[bytes, str]:
    """One row per unit: its code and name, then per indicator its value and, for shares, the
    numerator and denominator; the figure's computing time last."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(search_key(table.title)[:31] or "figures")
    bold = Font(bold=True)

    def header(text: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=safe_cell(text))
        cell.font = bold
        return cell

    ws.append([header(f"{page.ref.name} — {table.title}")])
    ws.append([safe_cell(f"{_('Period')}: {page.period.label()} ({page.period.code})")])
    ws.append([])
    columns = [header(_("Code")), header(table.unit_label)]
    for indicator in table.indicators:
        columns.append(header(f"{indicator.label()} ({_unit(indicator)})"))
        if indicator.is_percent:
            columns += [
                header(f"{indicator.short_label()}: {_('numerator')}"),
                header(f"{indicator.short_label()}: {_('denominator')}"),
            ]
        columns.append(header(f"{indicator.short_label()}: {_('target')}"))
    columns.append(header(_("Computed at")))
    ws.append(columns)
    for unit, _url, figures in table.lines:
        row: list[Any] = [unit.code, safe_cell(unit.name)]
        times = []
        for figure in figures:
            row.append(None if figure.value is None else round(figure.value, 2))
            if figure.indicator.is_percent:
                row += [figure.numerator, figure.denominator]
            row.append(figure.target)
            if figure.computed_at:
                times.append(figure.computed_at)
        row.append(timezone.localtime(max(times)).replace(tzinfo=None) if times else None)
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), _filename(page, table.key, "xlsx")


def _unit(indicator: Indicator) -> str:
    return "%" if indicator.is_percent else _("count")


# --- PDF --------------------------------------------------------------------------------------

GRID = colors.HexColor("#D9D3C9")
LINE = colors.HexColor("#0B5CAD")
BAR = colors.HexColor("#6D9FD6")
STATUS_COLOURS = {
    "met": colors.HexColor("#DCF1E3"),
    "near": colors.HexColor("#EEF5D6"),
    "behind": colors.HexColor("#FDEBC8"),
    "far": colors.HexColor("#FADAD7"),
}


def monthly_pdf(page: Page) -> tuple[bytes, str]:
    """The month's report in Vietnamese: headline figures against targets, a chart per
    indicator over up to 24 months, the table(s) of the page, the hamlets without a team."""
    with override("vi"):
        return _monthly_pdf(page), _filename(page, "bao-cao", "pdf")


def _monthly_pdf(page: Page) -> bytes:
    pdf.register_fonts()
    styles = {
        "title": pdf.paragraph_style("title", size=15, bold=True, color=pdf.OFFICIAL_RED),
        "h2": pdf.paragraph_style("h2", size=11.5, bold=True, spaceBefore=8, spaceAfter=4),
        "body": pdf.paragraph_style("body", size=9),
        "small": pdf.paragraph_style("small", size=7.5, color=pdf.MUTED),
        "cell": pdf.paragraph_style("cell", size=7, leading=8.6),
        "head": pdf.paragraph_style("head", size=6.6, leading=8, bold=True),
    }
    buffer = io.BytesIO()
    title = _("Monthly report %(month)s — %(unit)s") % {
        "month": page.period.label(),
        "unit": page.ref.name,
    }
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="CNSC",
        creator="CNSC",
    )
    story: list[Any] = [
        pdf.paragraph(_("Community digital technology teams").upper(), styles["small"]),
        pdf.paragraph(title, styles["title"]),
        pdf.paragraph(
            _("%(kind)s · figures computed at %(at)s · printed at %(now)s")
            % {
                "kind": page.ref.type_label,
                "at": _when(page.computed_at[1]),
                "now": _when(timezone.now()),
            },
            styles["small"],
        ),
        Spacer(1, 4 * mm),
        pdf.paragraph(_("Headline figures"), styles["h2"]),
        _headline_table(page, styles),
        pdf.paragraph(_("Trends"), styles["h2"]),
    ]
    charts = [_chart(series_of(page.trends[c.indicator.code])) for c in page.cards]
    pairs = [charts[i : i + 2] for i in range(0, len(charts), 2)]
    chart_grid = PdfTable(
        [pair + [""] * (2 - len(pair)) for pair in pairs], colWidths=[91 * mm, 91 * mm]
    )
    chart_grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(chart_grid)
    for table in page.tables:
        story.append(pdf.paragraph(f"{table.title} ({len(table.rows)})", styles["h2"]))
        if table.rows:
            story.append(_figures_table(table, styles))
        else:
            story.append(pdf.paragraph(_("Nothing to show for this period."), styles["body"]))
    if page.hamlets_without_team is not None:
        names = [
            f"{h.name} ({h.context})" if page.ref.type == "province" else h.name
            for h, _url in page.hamlets_without_team
        ]
        story.append(
            KeepTogether(
                [
                    pdf.paragraph(
                        _("Hamlets without an active team") + f" ({len(names)})", styles["h2"]
                    ),
                    pdf.paragraph(
                        "; ".join(names) if names else _("Every hamlet has an active team."),
                        styles["body"],
                    ),
                ]
            )
        )
    doc.build(story, canvasmaker=pdf.numbered_canvas(_footer(title)))
    return buffer.getvalue()


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y") if moment else "—"


def _footer(title: str) -> Callable[[Any, int, int], None]:
    """Each page's footer: the report's title, cut to the room left, and "page n of N"."""

    def draw(canvas: Any, page: int, pages: int) -> None:
        label = _("Page %(page)d of %(pages)d") % {"page": page, "pages": pages}
        size = 7.5
        room = A4[0] - 28 * mm - pdf.text_width(label, font=pdf.FONT, size=size) - 6 * mm
        pdf.draw_text(
            canvas, A4[0] - 14 * mm, 9 * mm, label, size=size, color=pdf.MUTED, align="right"
        )
        text = pdf.shortened(title, font=pdf.FONT, size=size, width=room)
        pdf.draw_text(canvas, 14 * mm, 9 * mm, text, size=size, color=pdf.MUTED, max_width=room)

    return draw


def _headline_table(page: Page, styles: dict[str, Any]) -> PdfTable:
    rows: list[list[Any]] = [
        [
            Paragraph(_("Indicator"), styles["head"]),
            Paragraph(_("Value"), styles["head"]),
            Paragraph(_("Numerator / denominator"), styles["head"]),
            Paragraph(_("Target"), styles["head"]),
            Paragraph(_("Change from last month"), styles["head"]),
        ]
    ]
    backgrounds = []
    for i, card in enumerate(page.cards, start=1):
        figure = card.figure
        parts = (
            f"{format_count(figure.numerator)} / {format_count(figure.denominator)}"
            if figure.indicator.is_percent
            else ""
        )
        rows.append(
            [
                pdf.paragraph(card.indicator.label(), styles["cell"]),
                pdf.paragraph(figure.display(), styles["cell"]),
                pdf.paragraph(parts, styles["cell"]),
                pdf.paragraph(card.target_display, styles["cell"]),
                pdf.paragraph(card.change, styles["cell"]),
            ]
        )
        if figure.status in STATUS_COLOURS:
            backgrounds.append(("BACKGROUND", (1, i), (1, i), STATUS_COLOURS[figure.status]))
    table = PdfTable(rows, colWidths=[72 * mm, 22 * mm, 38 * mm, 22 * mm, 28 * mm], repeatRows=1)
    table.setStyle(TableStyle([*_grid_style(), *backgrounds]))
    return table


def _grid_style() -> list[tuple[Any, ...]]:
    return [
        ("GRID", (0, 0), (-1, -1), 0.3, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F4F1EC")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]


def _figures_table(table: Table, styles: dict[str, Any]) -> PdfTable:
    name_width = 40 * mm
    width = (182 * mm - name_width) / max(len(table.indicators), 1)
    rows: list[list[Any]] = [
        [Paragraph(table.unit_label, styles["head"])]
        + [pdf.paragraph(i.short_label(), styles["head"]) for i in table.indicators]
    ]
    backgrounds = []
    for r, (unit, _url, figures) in enumerate(table.lines, start=1):
        rows.append(
            [pdf.paragraph(unit.name, styles["cell"])]
            + [pdf.paragraph(f.cell, styles["cell"]) for f in figures]
        )
        for c, figure in enumerate(figures, start=1):
            if figure.status in STATUS_COLOURS:
                backgrounds.append(("BACKGROUND", (c, r), (c, r), STATUS_COLOURS[figure.status]))
    pdf_table = PdfTable(
        rows, colWidths=[name_width] + [width] * len(table.indicators), repeatRows=1
    )
    pdf_table.setStyle(TableStyle([*_grid_style(), *backgrounds]))
    return pdf_table


def _chart(series: Series) -> Drawing:
    """A small chart drawn with reportlab's shapes (vector, in the PDF's font): the same
    picture as the page's SVG."""
    width, height = 88 * mm, 46 * mm
    left, right, top_pad, bottom = 28.0, 4.0, 16.0, 12.0
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 9, series.title[:70], fontName=pdf.FONT_SEMIBOLD, fontSize=7.2))
    top = series.top
    n = max(len(series.points), 1)
    step = plot_w / n

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return bottom + plot_h * min(max(v / top, 0), 1)

    for fraction in (0, 0.5, 1):
        gy = y(top * fraction)
        drawing.add(Line(left, gy, width - right, gy, strokeColor=GRID, strokeWidth=0.3))
        drawing.add(
            String(
                left - 3,
                gy - 2,
                series.axis_label(top * fraction),
                fontName=pdf.FONT,
                fontSize=6,
                textAnchor="end",
            )
        )
    values = [v for _p, v, _l in series.points]
    if series.bars:
        bar = max(step * 0.7, 0.8)
        for i, v in enumerate(values):
            if v:
                drawing.add(
                    Rect(
                        x(i) - bar / 2, bottom, bar, y(v) - bottom, fillColor=BAR, strokeColor=None
                    )
                )
    else:
        segment: list[float] = []
        for i, v in enumerate([*values, None]):
            if v is None:
                if len(segment) >= 4:
                    drawing.add(PolyLine(segment, strokeColor=LINE, strokeWidth=1.4))
                segment = []
                continue
            segment += [x(i), y(v)]
        for i, v in enumerate(values):
            if v is not None:
                drawing.add(Circle(x(i), y(v), 1.1, fillColor=LINE, strokeColor=None))
    target = series.target
    if target is not None and 0 <= target <= top:
        drawing.add(
            Line(
                left,
                y(target),
                width - right,
                y(target),
                strokeColor=pdf.OFFICIAL_RED,
                strokeWidth=0.7,
                strokeDashArray=[2, 2],
            )
        )
    for i in sorted({0, n // 2, n - 1}):
        if i < len(series.points):
            drawing.add(
                String(
                    x(i),
                    2,
                    series.points[i][0].short_label(),
                    fontName=pdf.FONT,
                    fontSize=6,
                    textAnchor="middle",
                )
            )
    last = next((label for _p, v, label in reversed(series.points) if v is not None), "—")
    drawing.add(
        String(width - 2, height - 9, last, fontName=pdf.FONT_BOLD, fontSize=8, textAnchor="end")
    )
    return drawing
