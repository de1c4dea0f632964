"""Training certificates: issued to those who pass (a core Credential per attendance), revoked
with a reason, printed in Vietnamese on landscape A4 with a QR code to the public verify page.

The credential keeps what the verify page shows (name, course, issuing commune, date), copied on
the day of issue; the printed page is drawn from the same credential, so paper and page agree.
An attendance holds at most one current certificate (``Attendance.certificate``), and the
database refuses one for an attendance that did not pass.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from cnsc.core import pdf
from cnsc.core.models import Credential, CredentialKind, format_code
from cnsc.core.services import credential_issue, credential_revoke, verify_url
from cnsc.core.text import nfc, search_key
from cnsc.training.models import Attendance, TrainingSession

PAGE = landscape(A4)
# The baseline of "<place>, <date>" above the issuer's signature, and the top of its letters.
ISSUED_BASELINE = 54 * mm
ISSUED_TOP = ISSUED_BASELINE + 3 * mm
GOLD = colors.HexColor("#C9A227")
# The heading every Vietnamese state document carries (Decree 30/2020/NĐ-CP); it is the same
# in every language the page could be printed in, so it is not translated.
NATIONAL_NAME = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_MOTTO = "Độc lập - Tự do - Hạnh phúc"


def _locked(attendance: Attendance) -> Attendance:
    return (
        Attendance.objects.select_for_update(of=("self",))
        .select_related("session__course", "session__commune", "member", "resident", "certificate")
        .get(pk=attendance.pk)
    )


@transaction.atomic
def certificate_issue(*, attendance: Attendance) -> Credential:
    """A certificate for one person who passed. Refused (nothing written) for someone who did
    not pass, or who already holds a valid certificate for this session."""
    locked = _locked(attendance)
    name = locked.person_name
    course = locked.session.course
    if not locked.passed:
        raise ValidationError(
            _(
                "%(name)s has not passed “%(course)s”: a certificate is issued only to those "
                "who pass. Record their result first."
            )
            % {"name": name, "course": course.title},
            code="not_passed",
        )
    current = locked.certificate
    if current is not None and current.revoked_at is None:
        raise ValidationError(
            _("%(name)s already has a certificate for this session (code %(code)s).")
            % {"name": name, "code": format_code(current.code)},
            code="already_issued",
        )
    credential = credential_issue(
        kind=CredentialKind.CERTIFICATE,
        holder_name=name,
        title=course.title,
        issuer=locked.session.commune.name,
        valid_until=None,
        subject=locked,
        issued_on=timezone.localdate(),
    )
    locked.certificate = credential
    locked.save(update_fields=["certificate"])
    attendance.certificate = credential
    return credential


@transaction.atomic
def certificates_issue_for_session(*, session: TrainingSession) -> list[Attendance]:
    """Certificates for everyone of the session who passed and holds none yet; returns their
    attendances. Refused when nobody has passed."""
    passed = Attendance.objects.filter(session=session, passed=True)
    if not passed.exists():
        raise ValidationError(
            _(
                "Nobody has passed this session yet: record the results before issuing "
                "certificates."
            ),
            code="nobody_passed",
        )
    issued: list[Attendance] = []
    without = Q(certificate__isnull=True) | Q(certificate__revoked_at__isnull=False)
    for attendance in passed.filter(without).select_related("member", "resident"):
        certificate_issue(attendance=attendance)
        issued.append(attendance)
    return issued


@transaction.atomic
def certificate_revoke(*, attendance: Attendance, reason: str) -> Credential:
    """Revoke the person's certificate for this session, saying why; the verify page shows
    "revoked" from the next scan. A new one can be issued afterwards."""
    locked = _locked(attendance)
    current = locked.certificate
    if current is None or current.revoked_at is not None:
        raise ValidationError(
            _("%(name)s has no valid certificate for this session.") % {"name": locked.person_name},
            code="no_certificate",
        )
    credential = credential_revoke(credential=current, reason=reason)
    attendance.certificate = credential
    return credential


def session_certificates(session: TrainingSession) -> list[Attendance]:
    """The session's attendances with a valid certificate, by given name: what the batch
    prints."""
    rows = Attendance.objects.filter(
        session=session, certificate__isnull=False, certificate__revoked_at__isnull=True
    ).select_related(
        "certificate", "member", "resident", "session__course", "session__commune__province"
    )
    return sorted(rows, key=lambda row: name_order(row.person_name))


def name_order(name: str) -> tuple[str, str]:
    """Vietnamese lists go by given name, the last word: Lâm before Nguyên before Tuyết."""
    key = search_key(name)
    return key.rsplit(" ", 1)[-1], key


# --- Printing --------------------------------------------------------------------------------


def _hours(value: Decimal) -> str:
    whole = value == value.to_integral_value()
    return number_format(value.quantize(Decimal(1)) if whole else value, decimal_pos=None)


def balanced_lines(text: str, *, font: str, size: float, width: float) -> str:
    """Text too long for one line, cut into two lines of about equal length (a course title
    that ends with a lone word on its second line looks like a mistake). Three lines or more
    are left to the paragraph's own wrapping."""
    text = nfc(text)
    words = text.split(" ")
    if len(words) < 2 or pdf.text_width(text, font=font, size=size) <= width:
        return text

    def longer_half(cut: int) -> float:
        return max(
            pdf.text_width(" ".join(part), font=font, size=size)
            for part in (words[:cut], words[cut:])
        )

    cut = min(range(1, len(words)), key=longer_half)
    if longer_half(cut) > width:
        return text
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])


def _fitted(
    text: str,
    *,
    size: float,
    min_size: float,
    leading: float,
    width: float,
    height: float,
    bold: bool = False,
    color: Any = pdf.INK,
) -> Paragraph:
    """``text`` as a centred paragraph ``width`` wide, at the largest size from ``size`` down to
    ``min_size`` (by half points) at which it takes no more than ``height``; ``leading`` is
    the line height as a multiple of the size. A title that would need one more line is cut
    into balanced lines first."""
    current = size
    while True:
        style = pdf.paragraph_style(
            "cert-fitted",
            size=current,
            leading=round(current * leading, 1),
            bold=bold,
            color=color,
            alignment=TA_CENTER,
        )
        font = pdf.FONT_BOLD if bold else pdf.FONT
        lines = balanced_lines(text, font=font, size=current, width=width).split("\n")
        para = Paragraph("<br/>".join(escape(nfc(line)) for line in lines), style)
        _w, used = para.wrap(width, PAGE[1])
        if used <= height or current <= min_size:
            return para
        current -= 0.5


def _underline(canvas: Canvas, x: float, y: float, width: float) -> None:
    canvas.saveState()
    canvas.setStrokeColor(pdf.INK)
    canvas.setLineWidth(0.6)
    canvas.line(x - width / 2, y, x + width / 2, y)
    canvas.restoreState()


def draw_certificate(canvas: Canvas, attendance: Attendance) -> None:
    """One certificate filling a landscape A4 page."""
    credential = attendance.certificate
    if credential is None:
        raise ValueError("draw_certificate() needs an attendance with a certificate")
    session = attendance.session
    commune = session.commune
    province = commune.province
    w, h = PAGE
    centre = w / 2

    # Frame: a red rule and a thin gold one inside it.
    canvas.saveState()
    canvas.setStrokeColor(pdf.OFFICIAL_RED)
    canvas.setLineWidth(2.4)
    canvas.rect(8 * mm, 8 * mm, w - 16 * mm, h - 16 * mm)
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(0.9)
    canvas.rect(10.5 * mm, 10.5 * mm, w - 21 * mm, h - 21 * mm)
    canvas.restoreState()

    # Heading: the issuing body on the left, the national heading on the right, as on every
    # administrative document.
    left_x, right_x = 74 * mm, w - 80 * mm
    top = h - 24 * mm
    if province is not None:
        pdf.draw_text(
            canvas, left_x, top, province.name.upper(), size=10, align="centre", max_width=110 * mm
        )
    pdf.draw_text(
        canvas,
        left_x,
        top - 5.2 * mm,
        credential.issuer.upper(),
        font=pdf.FONT_BOLD,
        size=10.5,
        align="centre",
        max_width=110 * mm,
    )
    _underline(canvas, left_x, top - 7.4 * mm, 30 * mm)
    pdf.draw_text(
        canvas, right_x, top, NATIONAL_NAME, font=pdf.FONT_BOLD, size=10.5, align="centre"
    )
    pdf.draw_text(
        canvas,
        right_x,
        top - 5.2 * mm,
        NATIONAL_MOTTO,
        font=pdf.FONT_SEMIBOLD,
        size=11,
        align="centre",
    )
    _underline(
        canvas,
        right_x,
        top - 7.4 * mm,
        pdf.text_width(NATIONAL_MOTTO, font=pdf.FONT_SEMIBOLD, size=11),
    )

    # The certificate itself.
    pdf.draw_text(
        canvas,
        centre,
        h - 62 * mm,
        _("Certificate").upper(),
        font=pdf.FONT_BOLD,
        size=36,
        color=pdf.OFFICIAL_RED,
        align="centre",
    )
    pdf.draw_text(
        canvas,
        centre,
        h - 72 * mm,
        _("Training course completed").upper(),
        font=pdf.FONT_SEMIBOLD,
        size=13,
        align="centre",
    )
    pdf.draw_text(
        canvas,
        centre,
        h - 88 * mm,
        _("This certifies that"),
        font=pdf.FONT_ITALIC,
        size=12.5,
        color=pdf.MUTED,
        align="centre",
    )
    pdf.draw_text(
        canvas,
        centre,
        h - 102 * mm,
        credential.holder_name,
        font=pdf.FONT_BOLD,
        size=28,
        align="centre",
        max_width=210 * mm,
    )
    pdf.draw_text(
        canvas,
        centre,
        h - 114 * mm,
        _("has completed the training course"),
        font=pdf.FONT_ITALIC,
        size=12.5,
        color=pdf.MUTED,
        align="centre",
    )
    # The course and where it was held fill the space down to the place and date of issue,
    # smaller type when they are long (titles and places run to 200 characters).
    held = _("Held on %(date)s at %(place)s · %(hours)s hours") % {
        "date": date_format(timezone.localtime(session.starts_at), "d/m/Y"),
        "place": session.place,
        "hours": _hours(session.course.hours),
    }
    top, floor, gap, width = h - 118 * mm, ISSUED_TOP + 3 * mm, 3.5 * mm, 200 * mm
    details = _fitted(
        held, size=10.5, min_size=8, leading=1.3, width=width, height=28, color=pdf.MUTED
    )
    _w, details_height = details.wrap(width, h)
    course = _fitted(
        credential.title,
        size=17,
        min_size=11,
        leading=1.24,
        width=width,
        height=top - floor - gap - details_height,
        bold=True,
    )
    _w, course_height = course.wrap(width, h)
    course.drawOn(canvas, centre - width / 2, top - course_height)
    details.drawOn(canvas, centre - width / 2, top - course_height - gap - details_height)

    # Where and when it was issued, and room for the signature and seal.
    issued = credential.issued_on
    place_date = _("%(place)s, %(day)s/%(month)s/%(year)s") % {
        "place": commune.short_name or commune.name,
        "day": f"{issued.day:02d}",
        "month": f"{issued.month:02d}",
        "year": issued.year,
    }
    pdf.draw_text(
        canvas,
        right_x,
        ISSUED_BASELINE,
        place_date,
        font=pdf.FONT_ITALIC,
        size=11,
        align="centre",
        max_width=110 * mm,
    )
    pdf.draw_text(
        canvas,
        right_x,
        47.5 * mm,
        credential.issuer.upper(),
        font=pdf.FONT_BOLD,
        size=11,
        align="centre",
        max_width=110 * mm,
    )

    # Bottom left: the QR code and the code to type when it will not scan.
    qr_size = 30 * mm
    qr_x, qr_y = 18 * mm, 16 * mm
    url = verify_url(credential.code)
    pdf.draw_qr(canvas, url, qr_x, qr_y, qr_size)
    text_x = qr_x + qr_size + 2 * mm
    pdf.draw_text(
        canvas, text_x, qr_y + 20 * mm, _("Scan to check"), font=pdf.FONT_SEMIBOLD, size=9
    )
    pdf.draw_text(
        canvas,
        text_x,
        qr_y + 15 * mm,
        url.split("://", 1)[-1],
        size=7.5,
        color=pdf.MUTED,
        max_width=80 * mm,
    )
    pdf.draw_text(
        canvas,
        text_x,
        qr_y + 9 * mm,
        f"{_('Code')}: {format_code(credential.code)}",
        font=pdf.FONT_SEMIBOLD,
        size=9.5,
    )


def certificates_pdf(attendances: Sequence[Attendance], *, title: str) -> bytes:
    """One certificate per landscape A4 page, in Vietnamese."""
    with translation.override("vi"):
        buffer = io.BytesIO()
        canvas = pdf.new_canvas(buffer, pagesize=PAGE, title=title)
        for attendance in attendances:
            draw_certificate(canvas, attendance)
            canvas.showPage()
        canvas.save()
    return buffer.getvalue()
