"""The shared PDF pieces: Vietnamese text that survives a round trip, and QR codes that scan."""

from __future__ import annotations

import io
import unicodedata

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph

from cnsc.core import pdf
from cnsc.core.testing_pdf import pdf_qr_codes, pdf_text, pdf_title

# Every tone mark on every vowel family, the đ, and the letters with two marks.
VIETNAMESE = (
    "Nguyễn Thị Ánh Tuyết, Đặng Văn Lâm, Trương Mỹ Hạnh, Phường Thủ Dầu Một, "
    "ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ ế ề ể ễ ệ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ứ ừ ử ữ ự ỳ ỷ ỹ ỵ"
)


def render(draw) -> bytes:
    buffer = io.BytesIO()
    canvas = pdf.new_canvas(buffer, pagesize=A4, title="Giấy chứng nhận")
    draw(canvas)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def test_vietnamese_text_comes_back_letter_for_letter():
    content = render(lambda c: pdf.draw_text(c, 40, 800, VIETNAMESE, size=9))
    assert VIETNAMESE in pdf_text(content)[0]
    assert VIETNAMESE.upper() not in pdf_text(content)[0]


def test_decomposed_input_is_drawn_as_precomposed_letters():
    """Text pasted from some sources arrives as base letter + combining marks; drawn as is, the
    marks would print beside the letter and extract as separate characters."""
    decomposed = unicodedata.normalize("NFD", "Tổ công nghệ số")
    content = render(lambda c: pdf.draw_text(c, 40, 800, decomposed))
    page = pdf_text(content)[0]
    assert "Tổ công nghệ số" in page


def test_bold_inside_a_paragraph_uses_the_bold_face_and_keeps_the_letters():
    style = pdf.paragraph_style("body", size=11)

    def draw(canvas):
        para = Paragraph("Thường <b>đậm Ỗ</b> <i>nghiêng ở</i>", style)
        para.wrap(400, 100)
        para.drawOn(canvas, 40, 700)

    content = render(draw)
    assert "Thường đậm Ỗ nghiêng ở" in pdf_text(content)[0]
    assert b"BeVietnamPro-Bold" in content
    assert b"BeVietnamPro-Italic" in content


def test_a_paragraph_of_typed_text_is_not_read_as_markup():
    style = pdf.paragraph_style("body")

    def draw(canvas):
        para = pdf.paragraph("Lê <b>Văn</b> & Con", style)
        para.wrap(400, 100)
        para.drawOn(canvas, 40, 700)

    assert "Lê <b>Văn</b> & Con" in pdf_text(render(draw))[0]


def test_a_long_name_is_shrunk_to_fit_its_box():
    name = "Công Tôn Nữ Thị Hoàng Phương Thảo Nguyên"
    size = pdf.fit_font_size(name, font=pdf.FONT_BOLD, size=12, max_width=150)
    assert size < 12
    assert pdfmetrics.stringWidth(name, pdf.FONT_BOLD, size) <= 150 + 0.01
    assert pdf.fit_font_size("An", font=pdf.FONT_BOLD, size=12, max_width=150) == 12
    assert pdf.fit_font_size(name * 5, font=pdf.FONT_BOLD, size=12, max_width=150) == 5


def test_the_qr_code_on_the_page_decodes_to_the_address_given():
    url = "https://cnsc.example.gov.vn/verify/ABCDEFGHJKMNPQRS"
    content = render(lambda c: pdf.draw_qr(c, url, 40, 600, 60))
    assert pdf_qr_codes(content) == [[url]]


def test_the_document_is_titled_in_vietnamese():
    assert pdf_title(render(lambda c: None)) == "Giấy chứng nhận"


def test_a_download_gets_an_ascii_file_name_and_is_not_cached():
    response = pdf.pdf_response(b"%PDF-1.4", filename="Thẻ thành viên Đặng Văn Lâm.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="the-thanh-vien-dang-van-lam.pdf"'
    )
    assert response["Cache-Control"] == "no-store"
