"""Handbooks: written in CNSC and printed as A5, or uploaded as PDF; published, replaced by a
new version, retired; bad files refused with nothing written."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfReader
from reportlab.lib.units import mm

from cnsc.core import pdf
from cnsc.core.testing_pdf import pdf_pages, pdf_text, pdf_text_runs, pdf_title
from cnsc.training.documents import A5, MARGIN_X, render_handbook
from cnsc.training.models import (
    Audience,
    BlockKind,
    Handbook,
    HandbookBlock,
    HandbookSource,
    HandbookStatus,
    Language,
    Topic,
)
from cnsc.training.selectors import handbooks_published
from cnsc.training.services import (
    handbook_block_add,
    handbook_create,
    handbook_new_version,
    handbook_publish,
    handbook_retire,
)
from cnsc.training.tests.factories import pdf_upload, png_upload

pytestmark = pytest.mark.django_db

TITLE = "Kích hoạt tài khoản định danh điện tử mức 2"
FIRST_HEADING = "Chuẩn bị trước khi đến"
SECOND_HEADING = "Những điều tuyệt đối không làm"
PARAGRAPH = "Mang theo thẻ căn cước gắn chip và điện thoại thông minh đã cài ứng dụng VNeID."
STEPS = [
    "Mở ứng dụng VNeID",
    "Chọn “Kích hoạt tài khoản định danh điện tử”",
    "Quét mã QR ở mặt sau thẻ",
]
WARNING = "Không đưa mật khẩu hay mã OTP cho bất kỳ ai, kể cả người tự xưng là cán bộ."


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def written(unit, title=TITLE, audience=Audience.RESIDENTS, topic=Topic.VNEID):
    handbook = handbook_create(unit=unit, title=title, topic=topic, audience=audience)
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=FIRST_HEADING)
    # Typed on a keyboard that sends decomposed letters: stored and printed precomposed.
    handbook_block_add(
        handbook=handbook, kind=BlockKind.PARAGRAPH, text=unicodedata.normalize("NFD", PARAGRAPH)
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.STEPS, text="\n".join(STEPS))
    handbook_block_add(
        handbook=handbook, kind=BlockKind.IMAGE, image=png_upload(), text="Màn hình đăng nhập"
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=SECOND_HEADING)
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text=WARNING)
    return handbook


def flat(content: bytes) -> str:
    return " ".join(" ".join(pdf_text(content)).split())


def test_a_written_handbook_prints_to_an_a5_pdf_with_its_vietnamese_text(home_province):
    handbook = handbook_publish(handbook=written(home_province))

    assert handbook.status == HandbookStatus.PUBLISHED
    with handbook.pdf.open("rb") as stored:
        content = stored.read()
    text = flat(content)
    for phrase in (TITLE, FIRST_HEADING, PARAGRAPH, *STEPS, "Màn hình đăng nhập", WARNING):
        assert phrase in text, phrase
    for number, step in enumerate(STEPS, start=1):
        assert f"{number}. {step}" in text, step
    assert unicodedata.normalize("NFD", PARAGRAPH) not in text
    assert text.index(FIRST_HEADING) < text.index(STEPS[0]) < text.index(SECOND_HEADING)
    assert "Thành phố Hồ Chí Minh" in text  # who publishes it

    reader = PdfReader(io.BytesIO(content))
    assert sum(len(page.images) for page in reader.pages) == 1  # the picture is printed
    page = reader.pages[0]
    assert round(float(page.mediabox.width) / mm) == 148
    assert round(float(page.mediabox.height) / mm) == 210
    assert pdf_title(content) == TITLE
    assert handbook.pages == pdf_pages(content)


def test_headings_become_the_pdfs_table_of_contents(home_province):
    handbook = handbook_publish(handbook=written(home_province))
    with handbook.pdf.open("rb") as stored:
        outline = PdfReader(stored).outline
    assert [item.title for item in outline] == [FIRST_HEADING, SECOND_HEADING]


def test_a_long_handbook_numbers_its_pages(home_province):
    handbook = handbook_create(
        unit=home_province,
        title="Cẩm nang dài",
        topic=Topic.SECURITY,
        audience=Audience.MEMBERS,
        language=Language.ENGLISH,  # the labels around the content in the source language
    )
    for n in range(12):
        handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=f"Phần {n + 1}")
        handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text=WARNING * 6)
    handbook_publish(handbook=handbook)
    with handbook.pdf.open("rb") as stored:
        content = stored.read()
    pages = pdf_text(content)
    assert len(pages) > 1
    assert f"Page 2 of {len(pages)}" in pages[1]
    assert "Cẩm nang dài · version 1" in pages[1]


def test_a_long_title_is_cut_short_in_the_footer_not_shrunk(home_province):
    title = (
        "Hướng dẫn thành viên Tổ công nghệ số cộng đồng hỗ trợ người dân sử dụng dịch vụ công "
        "trực tuyến toàn trình, thanh toán không dùng tiền mặt và chữ ký số từ xa năm 2026"
    )
    handbook = handbook_create(
        unit=home_province,
        title=title,
        topic=Topic.PUBLIC_SERVICES,
        audience=Audience.MEMBERS,
        language=Language.ENGLISH,  # the labels around the content in the source language
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text=PARAGRAPH)
    content = render_handbook(handbook).content
    footer: list[tuple[str, float]] = []

    def visit(text, _cm, _tm, _font, size):
        if "· version 1 ·" in text:
            footer.append((text.strip(), size))

    PdfReader(io.BytesIO(content)).pages[0].extract_text(visitor_text=visit)
    [(text, size)] = footer
    assert size == 7.5
    shown, _rest = text.split("… · version 1 ·")
    assert title.startswith(shown)
    assert len(shown) < len(title) / 2
    assert "Page 1 of 1" in pdf_text(content)[0]


_RUN_FONTS = {"BeVietnamPro-Regular": pdf.FONT}


def _drawn_width(text: str, font: str, size: float) -> float:
    """The narrowest a line can be drawn: reportlab may narrow its spaces by up to 5 % to fit
    the last word in."""
    font = _RUN_FONTS.get(font, font)
    space = pdf.text_width("a a", font=font, size=size) - pdf.text_width("aa", font=font, size=size)
    return pdf.text_width(text, font=font, size=size) - text.count(" ") * space * 0.05


def test_text_lists_and_pictures_keep_to_the_margins_of_the_band_and_footer(home_province):
    """Every line, list and picture starts at the left margin the band and footer start at,
    and none runs past the right margin towards the page edge."""
    handbook = written(home_province)
    long_steps = [f"Bước {n}: {WARNING} {PARAGRAPH}" for n in range(1, 7)]
    handbook_block_add(handbook=handbook, kind=BlockKind.STEPS, text="\n".join(long_steps))
    handbook_block_add(handbook=handbook, kind=BlockKind.IMAGE, image=png_upload(size=(1600, 500)))
    content = render_handbook(handbook).content
    left, right = MARGIN_X, A5[0] - MARGIN_X
    reader = PdfReader(io.BytesIO(content))
    paragraph_starts = set()
    pictures: list[tuple[float, float]] = []

    def picture(operator, _operands, cm, _tm):
        if operator == b"Do":
            pictures.append((cm[4], cm[0]))  # left edge and width of the image drawn

    for number, page in enumerate(reader.pages):
        for run in pdf_text_runs(content, page=number):
            assert run.x >= left - 0.01, run
            assert run.x + _drawn_width(run.text, run.font, run.size) <= right + 0.01, run
            if run.size == 10 and not run.text[0].isdigit():
                paragraph_starts.add(round(run.x, 2))
        page.extract_text(visitor_operand_before=picture)
    # Paragraph lines begin where the band's and the footer's text begin.
    assert round(left, 2) in paragraph_starts
    assert len(pictures) == 2
    for x, width in pictures:
        assert x >= left - 0.01, (x, width)
        assert x + width <= right + 0.01, (x, width)
    # The wide picture is scaled to the whole width of the text, no more.
    assert max(width for _x, width in pictures) == pytest.approx(right - left)


def test_a_list_after_a_heading_starts_where_there_is_room(home_province):
    """A heading and a long list are not moved together to the next page, leaving half of
    this one empty: the list starts under its heading and runs on."""
    handbook = handbook_create(
        unit=home_province, title="Danh sách dài", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text=PARAGRAPH * 3)
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=FIRST_HEADING)
    steps = [f"Bước số {n}: {WARNING}" for n in range(1, 16)]
    handbook_block_add(handbook=handbook, kind=BlockKind.STEPS, text="\n".join(steps))
    pages = [" ".join(page.split()) for page in pdf_text(render_handbook(handbook).content)]
    assert len(pages) == 2
    assert FIRST_HEADING in pages[0]
    assert f"1. {steps[0]}" in pages[0]
    assert f"15. {steps[-1]}" in pages[1]


def test_a_heading_never_ends_a_page(home_province):
    """Wherever the page ends, a heading is printed on the page that holds the first lines
    of what follows it."""
    handbook = handbook_create(
        unit=home_province, title="Trang đầy", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    filler = handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Dòng")
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=SECOND_HEADING)
    handbook_block_add(handbook=handbook, kind=BlockKind.STEPS, text="\n".join(STEPS))
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=FIRST_HEADING)
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text=WARNING * 3)
    # From a page with room to spare to a page that is full: the boundary moves line by line.
    for lines in range(14, 34):
        filler_text = "\n".join(f"Dòng {n}" for n in range(lines))
        HandbookBlock.objects.filter(pk=filler.pk).update(text=filler_text)
        pages = [" ".join(p.split()) for p in pdf_text(render_handbook(handbook).content)]
        with_steps = next(p for p in pages if SECOND_HEADING in p)
        assert f"1. {STEPS[0]}" in with_steps, lines
        with_warning = next(p for p in pages if FIRST_HEADING in p)
        assert WARNING[:40] in with_warning, lines


def test_a_heading_goes_with_the_picture_under_it(home_province):
    handbook = handbook_create(
        unit=home_province, title="Ảnh cuối trang", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    filler = handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Dòng")
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text=SECOND_HEADING)
    handbook_block_add(handbook=handbook, kind=BlockKind.IMAGE, image=png_upload(size=(400, 800)))
    handbook_block_add(handbook=handbook, kind=BlockKind.HEADING, text="Hết")
    for lines in range(0, 30, 3):
        filler_text = "\n".join(f"Dòng {n}" for n in range(lines + 1))
        HandbookBlock.objects.filter(pk=filler.pk).update(text=filler_text)
        reader = PdfReader(io.BytesIO(render_handbook(handbook).content))
        [page] = [p for p in reader.pages if SECOND_HEADING in " ".join(p.extract_text().split())]
        assert len(page.images) == 1, lines


def test_publish_then_a_new_version_then_retire(home_province, home_commune):
    first = handbook_publish(handbook=written(home_province))
    assert handbooks_published(commune=home_commune) == {Topic.VNEID: [first]}

    second = handbook_new_version(handbook=first, change_note="Thêm bước quét mã QR")
    assert (second.version, second.status) == (2, HandbookStatus.DRAFT)
    assert second.blocks.count() == first.blocks.count()
    # The published version stays on the list while the next one is written.
    assert handbooks_published(commune=home_commune) == {Topic.VNEID: [first]}

    handbook_publish(handbook=second)
    first.refresh_from_db()
    assert first.status == HandbookStatus.RETIRED
    assert handbooks_published(commune=home_commune) == {Topic.VNEID: [second]}
    with second.pdf.open("rb") as stored:
        assert "Thêm bước quét mã QR" in flat(stored.read())

    handbook_retire(handbook=second)
    assert handbooks_published(commune=home_commune) == {}


def test_only_a_draft_is_published_and_only_a_published_handbook_retired(home_province):
    handbook = written(home_province)
    with pytest.raises(ValidationError, match="only a published handbook can be retired"):
        handbook_retire(handbook=handbook)
    handbook_publish(handbook=handbook)
    with pytest.raises(ValidationError, match="only a draft can be published"):
        handbook_publish(handbook=handbook)
    with pytest.raises(ValidationError, match="Only a draft can be changed"):
        handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Thêm")


def test_a_handbook_without_content_is_not_published(home_province):
    handbook = handbook_create(
        unit=home_province, title="Trống", topic=Topic.VNEID, audience=Audience.MEMBERS
    )
    with pytest.raises(ValidationError, match="Write the handbook's content"):
        handbook_publish(handbook=handbook)
    handbook.refresh_from_db()
    assert (handbook.status, handbook.pdf.name) == (HandbookStatus.DRAFT, "")


def test_a_new_version_says_what_changed(home_province):
    first = handbook_publish(handbook=written(home_province))
    with pytest.raises(ValidationError, match="Say what changed"):
        handbook_new_version(handbook=first, change_note="  ")
    handbook_new_version(handbook=first, change_note="Sửa lỗi chính tả")
    with pytest.raises(ValidationError, match="newer version"):
        handbook_new_version(handbook=first, change_note="Lần nữa")


def test_the_bot_list_is_grouped_by_topic_for_a_commune(
    home_province, home_commune, neighbour_commune, other_commune
):
    province_wide = handbook_publish(handbook=written(home_province, title="Cẩm nang tỉnh"))
    own = handbook_publish(handbook=written(home_commune, title="Cẩm nang của phường"))
    handbook_publish(handbook=written(neighbour_commune, title="Cẩm nang phường bên"))
    for_members = handbook_publish(
        handbook=written(
            home_province,
            title="Nhận diện lừa đảo",
            audience=Audience.MEMBERS,
            topic=Topic.SECURITY,
        )
    )
    handbook_publish(handbook=written(other_commune, title="Cẩm nang Hà Nội"))
    written(home_commune, title="Bản nháp")

    assert handbooks_published(commune=home_commune) == {
        Topic.VNEID: [own, province_wide],
        Topic.SECURITY: [for_members],
    }
    assert handbooks_published(commune=home_commune, audience=Audience.MEMBERS) == {
        Topic.SECURITY: [for_members]
    }
    assert list(handbooks_published(commune=home_commune)) == [Topic.VNEID, Topic.SECURITY]


# --- Uploaded PDFs and pictures ---------------------------------------------------------------


def uploaded(unit, file):
    return handbook_create(
        unit=unit,
        title="Cẩm nang ví điện tử",
        topic=Topic.PAYMENTS,
        audience=Audience.RESIDENTS,
        source=HandbookSource.UPLOAD,
        pdf=file,
    )


def test_an_uploaded_pdf_is_kept_with_its_page_count(home_commune):
    handbook = uploaded(home_commune, pdf_upload(pages=3))
    assert handbook.pages == 3
    handbook_publish(handbook=handbook)
    assert handbooks_published(commune=home_commune) == {Topic.PAYMENTS: [handbook]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 a spreadsheet renamed to .pdf", "This file is not a PDF"),
        (b"\x89PNG\r\n\x1a\n a picture", "This file is not a PDF"),
        (b"%PDF-1.7\n\x00\x01 not really a pdf at all", "damaged"),
    ],
)
def test_a_file_that_is_not_a_pdf_is_refused_and_nothing_is_written(home_commune, content, message):
    with pytest.raises(ValidationError, match=message):
        uploaded(home_commune, SimpleUploadedFile("cam-nang.pdf", content))
    assert not Handbook.objects.exists()


def test_a_pdf_over_the_size_limit_is_refused(home_commune, settings):
    settings.HANDBOOK_MAX_BYTES = 500
    with pytest.raises(ValidationError, match="the largest PDF accepted is 500"):
        uploaded(home_commune, pdf_upload())
    assert not Handbook.objects.exists()


def test_a_picture_that_is_not_a_picture_is_refused(home_commune):
    handbook = handbook_create(
        unit=home_commune, title="Ảnh", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    fake = SimpleUploadedFile("anh.png", b"%PDF-1.4 this is not an image")
    with pytest.raises(ValidationError, match="This file is not a picture"):
        handbook_block_add(handbook=handbook, kind=BlockKind.IMAGE, image=fake)
    assert not HandbookBlock.objects.exists()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Chọn Cài đặt → Tài khoản", "→"),
        ("ការប្រើប្រាស់ VNeID", "ក"),  # Khmer: written in CNSC it would print as boxes
    ],
)
def test_text_the_typeface_cannot_print_is_refused(home_province, text, shown):
    handbook = handbook_create(
        unit=home_province, title="Ký tự lạ", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    for kind in (BlockKind.PARAGRAPH, BlockKind.STEPS, BlockKind.HEADING):
        with pytest.raises(ValidationError, match=f"cannot print these characters: {shown}"):
            handbook_block_add(handbook=handbook, kind=kind, text=f"Mở ứng dụng\n{text}")
    assert not HandbookBlock.objects.exists()
    with pytest.raises(ValidationError, match="upload the handbook as a PDF"):
        handbook_create(
            unit=home_province, title=text, topic=Topic.VNEID, audience=Audience.RESIDENTS
        )
    assert Handbook.objects.count() == 1
    # The same title is fine on an uploaded PDF: CNSC does not print it.
    handbook_create(
        unit=home_province,
        title=text,
        topic=Topic.VNEID,
        audience=Audience.RESIDENTS,
        source=HandbookSource.UPLOAD,
        pdf=pdf_upload(),
    )
    assert Handbook.objects.count() == 2


def test_a_picture_too_large_or_not_jpeg_or_png_is_refused(home_commune, settings):
    handbook = handbook_create(
        unit=home_commune, title="Ảnh", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "GIF")
    gif = SimpleUploadedFile("anh.png", buffer.getvalue())
    with pytest.raises(ValidationError, match="Pictures must be JPEG or PNG"):
        handbook_block_add(handbook=handbook, kind=BlockKind.IMAGE, image=gif)
    settings.HANDBOOK_IMAGE_MAX_BYTES = 1000
    with pytest.raises(ValidationError, match="the largest accepted is 1000"):
        handbook_block_add(handbook=handbook, kind=BlockKind.IMAGE, image=png_upload())
    assert not HandbookBlock.objects.exists()


def test_a_written_handbook_does_not_take_an_uploaded_pdf(home_commune):
    with pytest.raises(ValidationError, match="CNSC, which makes its PDF"):
        handbook_create(
            unit=home_commune,
            title="Viết",
            topic=Topic.VNEID,
            audience=Audience.RESIDENTS,
            pdf=pdf_upload(),
        )
    assert not Handbook.objects.exists()
