"""Member badges: issuing them (a core Credential per badge) and printing them.

A badge certifies a membership: this person, in this role, in this team. So a badge names the
membership as its subject, and ending the membership (or moving the person) revokes it. A member
has at most one unrevoked badge: issuing a new one revokes the old, so a lost card stops working.

The card is ID-1 size (85.6 × 54 mm, a bank card), the size card printers take and wallets hold;
a team's badges print ten to an A4 sheet with cut marks.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from cnsc.core import pdf
from cnsc.core.models import Credential, CredentialKind, CredentialQuerySet, format_code
from cnsc.core.services import credential_issue, credential_revoke, verify_url
from cnsc.core.text import nfc
from cnsc.team.models import Member, MemberRole, Membership, Team, TeamKind, TeamStatus

CARD_WIDTH, CARD_HEIGHT = 85.6 * mm, 54 * mm
# A reprint reuses the badge already issued unless it runs out within this many days.
RENEW_WITHIN = dt.timedelta(days=30)
GOLD = colors.HexColor("#F2C94C")
CARD_EDGE = colors.HexColor("#C8C2B8")
NAME_SIZE = 11.5
# Below this a one-line name is hard to read at arm's length: it goes on two lines instead.
NAME_MIN_SIZE = 9.5
QR_SIZE = 23 * mm

# Leaders first on the sheet, as on the roster.
_ROLE_ORDER: dict[str, int] = {MemberRole.LEADER: 0, MemberRole.DEPUTY: 1, MemberRole.MEMBER: 2}


def roster_order(membership: Membership) -> tuple[int, str, str, int]:
    """Leaders, deputies, then members; within each, by given name (the last word of a
    Vietnamese name), then the whole name, as rosters are kept."""
    key = membership.member.search_name
    return (_ROLE_ORDER.get(membership.role, 9), key.rsplit(" ", 1)[-1], key, membership.pk)


@dataclass(frozen=True)
class Badge:
    membership: Membership
    credential: Credential


def default_valid_until(issued_on: dt.date) -> dt.date:
    """One year: rosters are reviewed yearly, and a card found after that should not pass."""
    try:
        return issued_on.replace(year=issued_on.year + 1)
    except ValueError:  # 29 February
        return issued_on.replace(year=issued_on.year + 1, day=28)


def _badge_title(membership: Membership) -> str:
    return f"{membership.get_role_display()} · {membership.team.name}"


def _current_membership(member: Member) -> Membership:
    membership = (
        Membership.objects.select_related("team__commune", "team__hamlet")
        .filter(member=member, left_on__isnull=True)
        .first()
    )
    if membership is None:
        raise ValidationError(
            _("%(name)s is in no team now: only current members get a badge.")
            % {"name": member.full_name}
        )
    if membership.team.status != TeamStatus.ACTIVE:
        raise ValidationError(
            _("The team %(team)s is not active: its members get no badge.")
            % {"team": membership.team.name}
        )
    return membership


def _badges_of(member: Member) -> CredentialQuerySet:
    return Credential.objects.filter(
        kind=CredentialKind.BADGE,
        content_type=ContentType.objects.get_for_model(Membership),
        object_id__in=Membership.objects.filter(member=member).values("id"),
    )


@transaction.atomic
def badges_revoke_for_member(*, member: Member, reason: str) -> int:
    """Revoke every badge the member still holds, at once (the verify page says "revoked" from
    the next scan). For membership_end and member_move; returns how many were revoked."""
    revoked = 0
    for credential in _badges_of(member).not_revoked():
        credential_revoke(credential=credential, reason=reason)
        revoked += 1
    return revoked


@transaction.atomic
def badge_issue(*, member: Member, valid_until: dt.date | None = None) -> Badge:
    """A new badge for the member's current membership; any earlier badge is revoked."""
    # Two officials printing the same member at once must not leave two valid badges.
    Member.objects.select_for_update().filter(pk=member.pk).first()
    membership = _current_membership(member)
    badges_revoke_for_member(member=member, reason=_("Replaced by a new badge."))
    today = timezone.localdate()
    credential = credential_issue(
        kind=CredentialKind.BADGE,
        holder_name=member.full_name,
        title=_badge_title(membership),
        issuer=membership.team.commune.name,
        valid_until=valid_until or default_valid_until(today),
        subject=membership,
        issued_on=today,
    )
    return Badge(membership=membership, credential=credential)


@transaction.atomic
def badge_ensure(*, member: Member) -> Badge:
    """The badge to print for the member: the one already issued when it still says what the
    roster says and does not run out within RENEW_WITHIN, else a new one. Printing twice
    therefore gives the same card, and the first printed copy keeps working."""
    Member.objects.select_for_update().filter(pk=member.pk).first()
    membership = _current_membership(member)
    existing = (
        Credential.objects.for_subject(membership)
        .filter(kind=CredentialKind.BADGE)
        .not_revoked()
        .order_by("-issued_on", "-id")
        .first()
    )
    today = timezone.localdate()
    if (
        existing is not None
        and existing.holder_name == nfc(member.full_name)
        and existing.title == nfc(_badge_title(membership))
        and existing.issuer == membership.team.commune.name
        and (existing.valid_until is None or existing.valid_until >= today + RENEW_WITHIN)
    ):
        return Badge(membership=membership, credential=existing)
    return badge_issue(member=member)


@transaction.atomic
def team_badges_ensure(*, team: Team) -> list[Badge]:
    """Badges for every current member of the team, in roster order."""
    if team.status != TeamStatus.ACTIVE:
        raise ValidationError(
            _("The team %(team)s is not active: its members get no badge.") % {"team": team.name}
        )
    memberships = Membership.objects.filter(team=team, left_on__isnull=True).select_related(
        "member"
    )
    return [badge_ensure(member=m.member) for m in sorted(memberships, key=roster_order)]


# --- Printing --------------------------------------------------------------------------------


def _place(membership: Membership) -> tuple[str, str]:
    team = membership.team
    if team.kind == TeamKind.ORGANISATION or team.hamlet is None:
        return _("Organisation"), team.organisation_name
    return _("Area"), team.hamlet.name


def _name_lines(name: str, *, max_width: float) -> list[str]:
    """The holder's name on one line, or on two split between words as evenly as possible."""
    name = nfc(name)
    size = pdf.fit_font_size(name, font=pdf.FONT_BOLD, size=NAME_SIZE, max_width=max_width)
    words = name.split(" ")
    if size >= NAME_MIN_SIZE or len(words) < 2:
        return [name]

    def longer_half(cut: int) -> float:
        return max(
            pdf.text_width(" ".join(part), font=pdf.FONT_BOLD, size=NAME_SIZE)
            for part in (words[:cut], words[cut:])
        )

    cut = min(range(1, len(words)), key=longer_half)
    return [" ".join(words[:cut]), " ".join(words[cut:])]


# The team, place and commune rows under the role. A value that would need a size smaller than
# VALUE_MIN_SIZE on one line goes on two; a value that cannot fit even so is cut with "…" (the
# verify page shows it whole). No line is ever set below VALUE_FLOOR, none runs into the QR code.
VALUE_SIZE = 7
VALUE_MIN_SIZE = 6
VALUE_FLOOR = 5.5
ROW_PITCH = 3.6 * mm
WRAP_PITCH = 2.7 * mm
# Above the footer's rule (6.4 mm) with room for descenders.
LOWEST_DETAIL_BASELINE = 8.6 * mm
ELLIPSIS = "…"


def _cut_to_width(text: str, *, width: float, size: float) -> str:
    """``text`` as set in the value font at ``size``, cut after a whole word (or, for one long
    word, a letter) with an ellipsis so that it fits ``width``."""
    return pdf.shortened(text, font=pdf.FONT_SEMIBOLD, size=size, width=width)


def _one_line(text: str, *, width: float) -> tuple[list[str], float]:
    size = pdf.fit_font_size(
        text, font=pdf.FONT_SEMIBOLD, size=VALUE_SIZE, max_width=width, min_size=VALUE_FLOOR
    )
    return [_cut_to_width(text, width=width, size=size)], size


def _two_lines(text: str, *, width: float) -> tuple[list[str], float]:
    words = text.split(" ")

    def longer_half(cut: int) -> float:
        return max(
            pdf.text_width(" ".join(part), font=pdf.FONT_SEMIBOLD, size=VALUE_SIZE)
            for part in (words[:cut], words[cut:])
        )

    cut = min(range(1, len(words)), key=longer_half)
    halves = [" ".join(words[:cut]), " ".join(words[cut:])]
    size = min(
        pdf.fit_font_size(
            half, font=pdf.FONT_SEMIBOLD, size=VALUE_SIZE, max_width=width, min_size=VALUE_FLOOR
        )
        for half in halves
    )
    if all(pdf.text_width(half, font=pdf.FONT_SEMIBOLD, size=size) <= width for half in halves):
        return halves, size
    # Too long for two lines even at the floor: the first line takes as many words as it can
    # hold and the second goes on from there and ends in "…", so no word is left out between
    # the two lines (cutting each half would drop the words at the end of the first).
    first = 1
    while (
        first < len(words) - 1
        and pdf.text_width(" ".join(words[: first + 1]), font=pdf.FONT_SEMIBOLD, size=size) <= width
    ):
        first += 1
    head = _cut_to_width(" ".join(words[:first]), width=width, size=size)
    if head.endswith(ELLIPSIS):  # one word longer than the line: nothing can follow it
        return [head], size
    return [head, _cut_to_width(" ".join(words[first:]), width=width, size=size)], size


def _detail_layout(
    values: Sequence[str], *, width: float, first_baseline: float, lowest_baseline: float
) -> list[tuple[float, list[str], float]]:
    """For each value: its first baseline, its lines and their size. Values that need two lines
    get them from the first down, as long as the last row stays above ``lowest_baseline``."""
    values = [nfc(value) for value in values]
    wants_two = [
        len(value.split(" ")) > 1
        and pdf.fit_font_size(
            value, font=pdf.FONT_SEMIBOLD, size=VALUE_SIZE, max_width=width, min_size=0.1
        )
        < VALUE_MIN_SIZE
        for value in values
    ]
    spare = first_baseline - (len(values) - 1) * ROW_PITCH - lowest_baseline
    wrap_left = max(0, int(spare // WRAP_PITCH))
    layout: list[tuple[float, list[str], float]] = []
    baseline = first_baseline
    for value, two in zip(values, wants_two, strict=True):
        if two and wrap_left > 0:
            lines, size = _two_lines(value, width=width)
            wrap_left -= 1
        else:
            lines, size = _one_line(value, width=width)
        layout.append((baseline, lines, size))
        baseline -= ROW_PITCH + (len(lines) - 1) * WRAP_PITCH
    return layout


def draw_badge(canvas: Canvas, x: float, y: float, badge: Badge) -> None:
    """One card with its lower-left corner at (x, y)."""
    membership, credential = badge.membership, badge.credential
    team = membership.team
    commune = team.commune
    province = commune.province
    w, h = CARD_WIDTH, CARD_HEIGHT
    pad = 3.2 * mm

    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.setStrokeColor(CARD_EDGE)
    canvas.setLineWidth(0.3)
    canvas.rect(x, y, w, h, stroke=1, fill=1)

    # Header band: who issues the card, then the team's name as on the founding decision.
    band = 12.5 * mm
    canvas.setFillColor(pdf.OFFICIAL_RED)
    canvas.rect(x, y + h - band, w, band, stroke=0, fill=1)
    canvas.setFillColor(GOLD)
    canvas.rect(x, y + h - band - 0.7 * mm, w, 0.7 * mm, stroke=0, fill=1)
    issuer_line = commune.name if province is None else f"{commune.name} · {province.name}"
    pdf.draw_text(
        canvas,
        x + w / 2,
        y + h - 4.6 * mm,
        issuer_line.upper(),
        font=pdf.FONT_SEMIBOLD,
        size=6,
        color=colors.white,
        max_width=w - 2 * pad,
        align="centre",
    )
    pdf.draw_text(
        canvas,
        x + w / 2,
        y + h - 9.6 * mm,
        _("Community digital technology team").upper(),
        font=pdf.FONT_BOLD,
        size=9.5,
        color=colors.white,
        max_width=w - 2 * pad,
        align="centre",
    )

    # QR code on the right, with what it is for underneath.
    qr = QR_SIZE
    qr_x = x + w - pad - qr + 1.6 * mm  # the quiet zone may reach into the padding
    qr_y = y + 8.6 * mm
    pdf.draw_qr(canvas, verify_url(credential.code), qr_x, qr_y, qr)
    pdf.draw_text(
        canvas,
        qr_x + qr / 2,
        qr_y - 0.6 * mm,
        _("Scan to check"),
        font=pdf.FONT,
        size=5.5,
        color=pdf.MUTED,
        max_width=qr,
        align="centre",
    )

    # Left column: title, name, role, then team and place.
    left = x + pad
    text_width = qr_x - left - 1 * mm
    top = y + h - band - 5.2 * mm
    pdf.draw_text(
        canvas,
        left,
        top,
        _("Member badge").upper(),
        font=pdf.FONT_BOLD,
        size=6.5,
        color=pdf.OFFICIAL_RED,
        max_width=text_width,
    )
    name_lines = _name_lines(credential.holder_name, max_width=text_width)
    line_y = top - 5.6 * mm
    for line in name_lines:
        pdf.draw_text(
            canvas, left, line_y, line, font=pdf.FONT_BOLD, size=NAME_SIZE, max_width=text_width
        )
        line_y -= 4.4 * mm
    # A two-line name pushes the rest down; there is room above the footer for one more line.
    shift = (len(name_lines) - 1) * 4.4 * mm
    pdf.draw_text(
        canvas,
        left,
        top - 10 * mm - shift,
        membership.get_role_display(),
        font=pdf.FONT_SEMIBOLD,
        size=8,
        color=pdf.OFFICIAL_RED,
        max_width=text_width,
    )
    place_label, place = _place(membership)
    rows = [(_("Team"), team.name), (place_label, place), (_("Commune/ward"), commune.name)]
    # The label column is as wide as the longest label in the language printed, within limits.
    label_width = min(
        max(pdf.text_width(label, font=pdf.FONT, size=5.5) for label, _value in rows), 16 * mm
    )
    value_x = left + label_width + 1.8 * mm
    row_y = top - 14.6 * mm - shift
    layout = _detail_layout(
        [value for _label, value in rows],
        width=left + text_width - value_x,
        first_baseline=row_y,
        lowest_baseline=y + LOWEST_DETAIL_BASELINE,
    )
    for (label, _value), (baseline, lines, size) in zip(rows, layout, strict=True):
        pdf.draw_text(
            canvas, left, baseline, label, size=5.5, color=pdf.MUTED, max_width=label_width
        )
        for number, line in enumerate(lines):
            pdf.draw_text(
                canvas,
                value_x,
                baseline - number * WRAP_PITCH,
                line,
                font=pdf.FONT_SEMIBOLD,
                size=size,
            )

    # Footer: validity and the code a resident can type if the QR code will not scan.
    canvas.setStrokeColor(CARD_EDGE)
    canvas.setLineWidth(0.4)
    canvas.line(x + pad, y + 6.4 * mm, x + w - pad, y + 6.4 * mm)
    valid_until = (
        date_format(credential.valid_until, "d/m/Y") if credential.valid_until else _("no end date")
    )
    pdf.draw_text(
        canvas,
        x + pad,
        y + 2.6 * mm,
        f"{_('Valid until')}: {valid_until}",
        font=pdf.FONT_SEMIBOLD,
        size=6.5,
        max_width=w / 2 - pad,
    )
    pdf.draw_text(
        canvas,
        x + w - pad,
        y + 2.6 * mm,
        f"{_('Code')}: {format_code(credential.code)}",
        font=pdf.FONT_SEMIBOLD,
        size=6.5,
        max_width=w / 2 - pad,
        align="right",
    )
    canvas.restoreState()


def badge_cards_pdf(badges: Sequence[Badge], *, title: str) -> bytes:
    """One card per page, each page exactly card size: for card printers."""
    buffer = io.BytesIO()
    canvas = pdf.new_canvas(buffer, pagesize=(CARD_WIDTH, CARD_HEIGHT), title=title)
    for badge in badges:
        draw_badge(canvas, 0, 0, badge)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# A4 sheet: two columns of five cards, with gutters so a slightly crooked cut never shows a
# sliver of the neighbouring card's red band.
COLUMNS, ROWS = 2, 5
COLUMN_GAP, ROW_GAP = 6 * mm, 2 * mm
MARK_GAP, MARK_LENGTH = 1.5 * mm, 4 * mm


def _sheet_origin() -> tuple[float, float]:
    page_w, page_h = A4
    block_w = COLUMNS * CARD_WIDTH + (COLUMNS - 1) * COLUMN_GAP
    block_h = ROWS * CARD_HEIGHT + (ROWS - 1) * ROW_GAP
    return (page_w - block_w) / 2, (page_h - block_h) / 2


def _draw_cut_marks(canvas: Canvas) -> None:
    """Marks in the margins in line with every card edge; nothing inside the cards' area."""
    page_w, page_h = A4
    left, bottom = _sheet_origin()
    right, top = page_w - left, page_h - bottom
    xs = [
        left + c * (CARD_WIDTH + COLUMN_GAP) + dx for c in range(COLUMNS) for dx in (0, CARD_WIDTH)
    ]
    ys = [bottom + r * (CARD_HEIGHT + ROW_GAP) + dy for r in range(ROWS) for dy in (0, CARD_HEIGHT)]
    canvas.saveState()
    canvas.setStrokeColor(colors.black)
    canvas.setLineWidth(0.25)
    for mark_x in xs:
        canvas.line(mark_x, top + MARK_GAP, mark_x, top + MARK_GAP + MARK_LENGTH)
        canvas.line(mark_x, bottom - MARK_GAP, mark_x, bottom - MARK_GAP - MARK_LENGTH)
    for mark_y in ys:
        canvas.line(left - MARK_GAP, mark_y, left - MARK_GAP - MARK_LENGTH, mark_y)
        canvas.line(right + MARK_GAP, mark_y, right + MARK_GAP + MARK_LENGTH, mark_y)
    canvas.restoreState()


NOTE_SIZE = 6.5
# The note sits between the cut marks above the first column of cards.
NOTE_WIDTH = CARD_WIDTH - 4 * mm


def _sheet_note(title: str, *, page: int, pages: int) -> str:
    """What the sheet is, which page, and how to print it, in the room above the first card: a
    long title is cut short (every card names its team anyway) so the page number and the
    printing advice always show at a readable size and never run across the cut marks."""
    template = _("%(title)s · page %(page)d of %(pages)d · print at actual size (100%%)")
    values = {"page": page, "pages": pages}
    room = NOTE_WIDTH - pdf.text_width(
        template % {**values, "title": ""}, font=pdf.FONT, size=NOTE_SIZE
    )
    short = pdf.shortened(nfc(title), font=pdf.FONT, size=NOTE_SIZE, width=max(room, 0))
    return template % {**values, "title": short}


def badge_sheets_pdf(badges: Sequence[Badge], *, title: str) -> bytes:
    """Badges ten to an A4 page, filled row by row, with cut marks and, in the top margin, what
    the sheet is and how to print it."""
    buffer = io.BytesIO()
    canvas = pdf.new_canvas(buffer, pagesize=A4, title=title)
    per_page = COLUMNS * ROWS
    pages = max(1, -(-len(badges) // per_page))
    left, bottom = _sheet_origin()
    for page in range(pages):
        chunk = badges[page * per_page : (page + 1) * per_page]
        _draw_cut_marks(canvas)
        pdf.draw_text(
            canvas,
            left + 2 * mm,
            A4[1] - bottom + MARK_GAP + 1.2 * mm,
            _sheet_note(title, page=page + 1, pages=pages),
            size=NOTE_SIZE,
            color=pdf.MUTED,
        )
        for index, badge in enumerate(chunk):
            row, column = divmod(index, COLUMNS)
            card_x = left + column * (CARD_WIDTH + COLUMN_GAP)
            card_y = A4[1] - bottom - (row + 1) * CARD_HEIGHT - row * ROW_GAP
            draw_badge(canvas, card_x, card_y, badge)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
