"""Reading and writing the spreadsheets officials exchange with CNSC (.xlsx and .csv), whatever
their content: file checks, streamed rows with their numbers, headers matched without
diacritics, cell parsing, templates, and cells that a spreadsheet shows but never runs.

Rows are streamed: a file of a million rows is read in constant memory. An .xlsx is read with
openpyxl's read-only mode; a .csv is decoded as it is read (UTF-8, with or without the BOM Excel
writes; comma, semicolon or tab, whichever the header line uses).

Uploads come from anyone with an account, so a file is distrusted until read: an .xlsx (a zip
archive) is refused when its listing promises more than a spreadsheet unpacks to (a zip bomb) or
uses a compression Excel never writes, before openpyxl unpacks anything; a sheet beyond Excel's
own limits (rows, columns) or a .csv line longer than any real row stops the reading; and
whatever openpyxl or the csv module raise on a broken or hostile file becomes ImportFileError
with a sentence for the official, never a server error.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from cnsc.core.text import nfc, search_key

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters that make a spreadsheet treat a cell as a formula (and tab/CR, which some
# programs strip before looking).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows of the template formatted as text (so leading zeros survive typing).
_TEMPLATE_ROWS = 1000

# Excel writes parts that unpack to 5-20 times their packed size; a zip bomb unpacks to
# thousands or millions of times. Python's zipfile never unpacks more than the listing declares
# (a part that lies fails its checksum), so checking the listing bounds what openpyxl can unpack.
XLSX_MAX_RATIO = 100
XLSX_MAX_PARTS = 1000
# A part this small cannot hurt, whatever its ratio (an empty sheet packs 50 times).
_XLSX_SMALL_PART = 1 << 20
# Excel's own limits: a sheet beyond them was not made by a spreadsheet program.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
# No row of any template comes near this; a line of millions of commas would cost gigabytes.
MAX_CSV_LINE = 1 << 20


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says why, for the official."""


@dataclass(frozen=True)
class Column:
    """One column of a file format. Headers are part of the format officials fill in, so they
    are fixed Vietnamese strings, not translations."""

    key: str
    header: str
    required: bool = False
    text: bool = False  # formatted as text in the template (leading zeros matter)
    width: int = 18


@dataclass
class Sheet:
    name: str
    headers: dict[str, int]  # header key (see header_key) -> position
    rows: Iterator[tuple[int, Sequence[Any]]]  # (row number in the file, values); no empty rows

    def columns(self, spec: Iterable[Column]) -> dict[str, int]:
        """Column key -> position, for the columns of ``spec`` present in this sheet."""
        return {
            c.key: self.headers[header_key(c.header)]
            for c in spec
            if header_key(c.header) in self.headers
        }


def header_key(value: Any) -> str:
    """A header as matched: no case, diacritics, extra spaces or trailing "*"."""
    return search_key(str(value or "")).rstrip(" *")


def header_map(values: Iterable[Any]) -> dict[str, int]:
    result: dict[str, int] = {}
    for position, value in enumerate(values):
        key = header_key(value)
        if key and key not in result:
            result[key] = position
    return result


def _numbered(rows: Iterable[Sequence[Any]], start: int) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, values in enumerate(rows, start=start):
        if any(v is not None and v != "" for v in values):
            yield number, values


def not_a_spreadsheet() -> ImportFileError:
    return ImportFileError(
        _("This file is not a spreadsheet that can be read. Upload an .xlsx or .csv file.")
    )


def _unpacks_too_large() -> ImportFileError:
    return ImportFileError(
        _(
            "This file unpacks to far more data than a spreadsheet holds, so it is not read. "
            "Open it in Excel, save it again as .xlsx and upload that copy."
        )
    )


def _sheet_too_large() -> ImportFileError:
    return ImportFileError(
        _(
            "A sheet of this file has more rows or columns than Excel allows (%(rows)s rows, "
            "%(columns)s columns), so it is not read."
        )
        % {
            "rows": number_format(MAX_ROWS, force_grouping=True),
            "columns": number_format(MAX_COLUMNS, force_grouping=True),
        }
    )


def check_xlsx_archive(upload: IO[bytes]) -> None:
    """Refuse an .xlsx whose zip listing is not what Excel writes: too many parts, a compression
    other than deflate, encryption, or parts that unpack to far more than their packed size.
    Reads only the listing; the stream is left at its start."""
    size = upload.seek(0, io.SEEK_END)
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise not_a_spreadsheet() from None
    finally:
        upload.seek(0)
    if len(parts) > XLSX_MAX_PARTS:
        raise not_a_spreadsheet()
    total = 0
    for part in parts:
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise not_a_spreadsheet()
        if part.flag_bits & 0x1:  # encrypted
            raise not_a_spreadsheet()
        total += part.file_size
        if part.file_size > _XLSX_SMALL_PART and part.file_size > XLSX_MAX_RATIO * max(
            part.compress_size, 1
        ):
            raise _unpacks_too_large()
    if total > XLSX_MAX_RATIO * max(size, _XLSX_SMALL_PART):
        raise _unpacks_too_large()


def open_workbook(upload: IO[bytes]) -> Any:
    """The read-only openpyxl workbook of an uploaded .xlsx, after ``check_xlsx_archive``; the
    caller closes it."""
    check_xlsx_archive(upload)
    try:
        return load_workbook(upload, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for broken or hostile files
        raise not_a_spreadsheet() from None


def sheet_values(ws: Any) -> Iterator[Sequence[Any]]:
    """The rows of a read-only worksheet, as values. Stops with ImportFileError at anything
    openpyxl cannot read (found only as the rows are read: the sheet is not parsed up front)
    and past Excel's limits (a row numbered in the billions would otherwise yield billions of
    empty rows)."""
    rows = ws.iter_rows(values_only=True)
    count = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception:  # openpyxl raises many types for broken or hostile files
            raise not_a_spreadsheet() from None
        count += 1
        if count > MAX_ROWS or len(values) > MAX_COLUMNS:
            raise _sheet_too_large()
        yield values


def check_upload(upload: IO[bytes], *, size: int, limit: int) -> str:
    """ "xlsx" or "csv" after the checks every upload passes (size, empty, old .xls); the stream
    is left at its start."""
    if size > limit:
        raise ImportFileError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": f"{size / 1_048_576:.1f}", "limit": f"{limit / 1_048_576:.0f}"}
        )
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    if head.startswith(XLS_MAGIC):
        raise ImportFileError(
            _("Old Excel files (.xls) cannot be read: save the file as .xlsx and upload again.")
        )
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if b"\x00" in head:
        raise not_a_spreadsheet()
    return "csv"


@contextmanager
def open_sheets(upload: IO[bytes], *, size: int, limit: int) -> Iterator[list[Sheet]]:
    """The sheets of an uploaded .xlsx (or the one table of a .csv) that have a header row, in
    order, readable until the block ends. Raises ImportFileError, also while rows are read (a
    .csv that turns out not to be UTF-8 half-way). The upload stays open: the caller owns it."""
    kind = check_upload(upload, size=size, limit=limit)
    if kind == "xlsx":
        wb = open_workbook(upload)
        try:
            sheets = []
            for ws in wb.worksheets:
                rows = sheet_values(ws)
                first = next(rows, None)
                if first is not None:
                    sheets.append(Sheet(ws.title, header_map(first), _numbered(rows, 2)))
            yield sheets
        finally:
            wb.close()
        return
    stream = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    try:
        lines = _csv_lines(stream)
        first_line = next(lines, "")
        if not first_line.strip():
            yield []
            return
        delimiter = max(",;\t", key=first_line.count)
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        yield [Sheet("CSV", header_map(header), _numbered(_csv_rows(lines, delimiter), 2))]
    finally:
        # Closing the wrapper would close the upload.
        stream.detach()


def _csv_lines(stream: io.TextIOWrapper) -> Iterator[str]:
    while True:
        try:
            line = stream.readline(MAX_CSV_LINE + 1)
        except UnicodeDecodeError:
            raise _not_utf8() from None
        if not line:
            return
        if "\x00" in line:
            # Text never holds it, and PostgreSQL refuses it in every text column.
            raise not_a_spreadsheet()
        if len(line) > MAX_CSV_LINE:
            raise ImportFileError(
                _("A line of this file is longer than %(limit)s characters, so it is not read.")
                % {"limit": number_format(MAX_CSV_LINE, force_grouping=True)}
            )
        yield line


def _csv_rows(lines: Iterator[str], delimiter: str) -> Iterator[list[str]]:
    try:
        yield from csv.reader(lines, delimiter=delimiter)
    except csv.Error:
        raise not_a_spreadsheet() from None


def _not_utf8() -> ImportFileError:
    return ImportFileError(_("The .csv file must be saved as UTF-8 (in Excel: CSV UTF-8)."))


# --- Cells ----------------------------------------------------------------------------------


def cell(values: Sequence[Any], columns: Mapping[str, int], key: str) -> Any:
    """The value in column ``key``: None when the column is missing or the cell is empty;
    text is stripped."""
    position = columns.get(key)
    if position is None or position >= len(values):
        return None
    value = values[position]
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def text(value: Any) -> str:
    """A cell as text in NFC: a whole number typed into a number cell loses its ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(str(value))


def parse_date(value: Any) -> dt.date:
    """A date cell, or text in dd/mm/yyyy (also dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd); ValueError
    otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = text(value)
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 (a calendar day)
        except ValueError:
            continue
    raise ValueError(raw)


def lookup(values: Mapping[Any, str], *aliases: tuple[str, str]) -> dict[str, str]:
    """A table from what officials write to the stored value: the Vietnamese label, the stored
    value itself, or a listed alias, all without diacritics (read with ``search_key``)."""
    table = {search_key(label): key for key, label in values.items()}
    table.update({search_key(key): key for key in values})
    table.update({search_key(alias): key for alias, key in aliases})
    return table


# --- Writing --------------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """A value that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def bold_row(ws: Any, values: Iterable[str]) -> list[Any]:
    """A header row for a write-only sheet."""
    font = Font(bold=True)
    cells = []
    for value in values:
        cell_ = WriteOnlyCell(ws, value=value)
        cell_.font = font
        cells.append(cell_)
    return cells


@dataclass(frozen=True)
class TemplateSheet:
    title: str
    columns: Sequence[Column]
    choices: Mapping[str, Sequence[str]]  # column key -> values offered in a drop-down


def template_workbook(sheets: Sequence[TemplateSheet], guide: Sequence[str]) -> bytes:
    """An .xlsx to fill in: one sheet per table with bold headers, text columns formatted as
    text, drop-downs for fixed values, and a sheet of instructions."""
    wb = Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, spec in enumerate(sheets):
        ws = wb.active if index == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = spec.title
        ws.freeze_panes = "A2"
        for number, column in enumerate(spec.columns, start=1):
            header = ws.cell(row=1, column=number, value=column.header)
            header.font = bold
            header.fill = fill
            letter = get_column_letter(number)
            ws.column_dimensions[letter].width = column.width
            if column.text:
                for row in range(2, _TEMPLATE_ROWS + 1):
                    ws.cell(row=row, column=number).number_format = "@"
            if column.key in spec.choices:
                rule = DataValidation(
                    type="list", formula1='"' + ",".join(spec.choices[column.key]) + '"'
                )
                rule.add(f"{letter}2:{letter}100000")
                ws.add_data_validation(rule)
    sheet = wb.create_sheet("Hướng dẫn")
    for line in guide:
        sheet.append([line])
    sheet.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
