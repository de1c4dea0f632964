"""Checking uploaded files by what they contain, not by their name: a handbook PDF and the
pictures of a handbook written in CNSC.

A file named ``.pdf`` may be anything; residents download what we publish, so a handbook must
be a PDF that opens (magic bytes, then parsed with pypdf) and a picture must be a JPEG or PNG
that Pillow can decode. Messages name the problem and what to do, never the file's content.
"""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader

# The PDF specification lets a reader find the header within the first 1,024 bytes.
PDF_MAGIC = b"%PDF-"
PDF_HEADER_WINDOW = 1024
IMAGE_FORMATS = frozenset({"JPEG", "PNG"})
# A phone photo is about 12 million pixels; far more is a mistake or a decompression bomb.
IMAGE_MAX_PIXELS = 40_000_000


def _size(file: Any) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
    return int(size)


def _is_stored(file: Any) -> bool:
    """A file already saved with the row was checked when it was uploaded."""
    return bool(getattr(file, "_committed", False))


def _stream(file: Any) -> IO[bytes]:
    inner = getattr(file, "file", None)
    return inner if inner is not None else file


def inspect_pdf(file: Any) -> int:
    """The number of pages of an uploaded PDF; ValidationError when it is too large, not a PDF,
    damaged, protected by a password or empty."""
    size = _size(file)
    if size > settings.HANDBOOK_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the largest PDF accepted is %(max)s.")
            % {"size": filesizeformat(size), "max": filesizeformat(settings.HANDBOOK_MAX_BYTES)},
            code="pdf_too_large",
        )
    stream = _stream(file)
    stream.seek(0)
    head = stream.read(PDF_HEADER_WINDOW)
    if PDF_MAGIC not in head:
        raise ValidationError(
            _("This file is not a PDF. Save the handbook as PDF and upload that file."),
            code="not_pdf",
        )
    stream.seek(0)
    try:
        reader = PdfReader(stream)
        encrypted = reader.is_encrypted
        pages = 0 if encrypted else len(reader.pages)
    # pypdf raises many different exception types on damaged files.
    except Exception:
        raise ValidationError(
            _("This PDF is damaged and cannot be opened. Export it again and upload the new file."),
            code="pdf_damaged",
        ) from None
    finally:
        stream.seek(0)
    if encrypted:
        raise ValidationError(
            _("This PDF is protected by a password. Upload a copy that opens without one."),
            code="pdf_encrypted",
        )
    if pages == 0:
        raise ValidationError(_("This PDF has no pages."), code="pdf_empty")
    return pages


def validate_pdf_file(file: Any) -> None:
    if file and not _is_stored(file):
        inspect_pdf(file)


def inspect_image(file: Any) -> str:
    """The format (JPEG or PNG) of an uploaded picture; ValidationError when it is too large or
    not a picture."""
    size = _size(file)
    if size > settings.HANDBOOK_IMAGE_MAX_BYTES:
        raise ValidationError(
            _("The picture is %(size)s; the largest accepted is %(max)s.")
            % {
                "size": filesizeformat(size),
                "max": filesizeformat(settings.HANDBOOK_IMAGE_MAX_BYTES),
            },
            code="image_too_large",
        )
    stream = _stream(file)
    stream.seek(0)
    try:
        with Image.open(stream) as image:
            image_format = image.format or ""
            pixels = image.width * image.height
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("This file is not a picture. Upload a photo or drawing as JPEG or PNG."),
            code="not_image",
        ) from None
    finally:
        stream.seek(0)
    if image_format not in IMAGE_FORMATS:
        raise ValidationError(
            _("Pictures must be JPEG or PNG. Save this one in one of those formats."),
            code="image_format",
        )
    if pixels > IMAGE_MAX_PIXELS:
        raise ValidationError(
            _("This picture is too large to print. Make it smaller (at most 40 megapixels)."),
            code="image_pixels",
        )
    return image_format


def validate_image_file(file: Any) -> None:
    if file and not _is_stored(file):
        inspect_image(file)
