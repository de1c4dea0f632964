"""Member badges: what is printed, what the QR code opens, and who may print them."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
import zxingcpp
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from cnsc.access.roles import Role
from cnsc.core import pdf
from cnsc.core.models import Credential, CredentialKind, format_code
from cnsc.core.services import verify_url
from cnsc.core.testing import make_user
from cnsc.core.testing_pdf import TextRun, pdf_pages, pdf_qr_codes, pdf_text, pdf_text_runs
from cnsc.team.badge_views import download_member_badges, download_team_badges
from cnsc.team.badges import (
    CARD_HEIGHT,
    CARD_WIDTH,
    COLUMN_GAP,
    QR_SIZE,
    badge_cards_pdf,
    badge_ensure,
    badge_issue,
    badge_sheets_pdf,
    badges_revoke_for_member,
    default_valid_until,
    team_badges_ensure,
)
from cnsc.team.models import Member, MemberRole, Team, TeamKind, TeamStatus
from cnsc.team.services import member_update, membership_end, team_create
from cnsc.team.tests.factories import enrol, make_member, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def team(hamlet):
    return make_team(hamlet, name="Tổ CNSC Khu phố 1")


@pytest.fixture
def leader(team):
    return enrol(
        team,
        role=MemberRole.LEADER,
        full_name="Nguyễn Thị Ánh Tuyết",
        sex="female",
        birth_year=1979,
        phone="0912 345 678",
    ).member


def english_pdf(render, *args, **kwargs) -> bytes:
    with translation.override("en"):
        return render(*args, **kwargs)


# --- Issuing --------------------------------------------------------------------------------


def test_a_badge_records_only_public_facts_of_the_membership(leader, team):
    badge = badge_issue(member=leader)
    credential = badge.credential
    assert credential.kind == CredentialKind.BADGE
    assert credential.holder_name == "Nguyễn Thị Ánh Tuyết"
    assert credential.issuer == "Phường Thủ Dầu Một"
    assert "Tổ CNSC Khu phố 1" in credential.title
    assert credential.subject == badge.membership
    assert badge.membership.team == team
    assert credential.valid_until == default_valid_until(timezone.localdate())
    assert credential.valid_until > timezone.localdate() + dt.timedelta(days=360)


def test_printing_twice_gives_the_same_badge(leader):
    first = badge_ensure(member=leader).credential
    again = badge_ensure(member=leader).credential
    assert again.pk == first.pk
    assert Credential.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_renamed_member_gets_a_new_badge_and_the_old_one_stops_working(leader):
    old = badge_ensure(member=leader).credential
    member_update(member=leader, full_name="Nguyễn Thị Ánh Tuyết Hoa")
    new = badge_ensure(member=leader).credential
    assert new.pk != old.pk
    assert new.holder_name == "Nguyễn Thị Ánh Tuyết Hoa"
    old.refresh_from_db()
    assert old.revoked_at is not None


def test_a_badge_close_to_its_end_is_renewed_on_printing(leader):
    soon = timezone.localdate() + dt.timedelta(days=10)
    old = badge_issue(member=leader, valid_until=soon).credential
    renewed = badge_ensure(member=leader).credential
    assert renewed.pk != old.pk
    assert renewed.valid_until > soon


def test_someone_in_no_team_gets_no_badge(home_commune):
    member = make_member(home_commune, full_name="Trần Văn Bình")
    with pytest.raises(ValidationError, match="Trần Văn Bình is in no team"):
        badge_issue(member=member)
    assert not Credential.objects.exists()


def test_members_of_a_suspended_team_get_no_badge(leader, team):
    Team.objects.filter(pk=team.pk).update(status=TeamStatus.SUSPENDED)
    team.refresh_from_db()
    with pytest.raises(ValidationError, match="not active"):
        badge_issue(member=leader)
    with pytest.raises(ValidationError, match="not active"):
        team_badges_ensure(team=team)


def test_revoking_a_members_badges_shows_at_once_on_the_verify_page(client, leader):
    credential = badge_ensure(member=leader).credential
    page = reverse("core:verify", args=[credential.code])
    assert "verdict-valid" in client.get(page).content.decode()

    assert badges_revoke_for_member(member=leader, reason="Left the team") == 1

    assert "verdict-revoked" in client.get(page).content.decode()
    assert badges_revoke_for_member(member=leader, reason="Left the team") == 0


def test_leaving_the_team_revokes_the_badge_at_once(client, leader):
    credential = badge_ensure(member=leader).credential
    membership_end(membership=leader.memberships.get(left_on__isnull=True))
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    page = reverse("core:verify", args=[credential.code])
    assert "verdict-revoked" in client.get(page).content.decode()


def test_after_leaving_the_team_no_badge_is_printed(leader):
    badge = badge_ensure(member=leader)
    membership_end(membership=badge.membership)
    with pytest.raises(ValidationError, match="in no team"):
        badge_ensure(member=leader)


def test_the_verify_page_of_a_badge_shows_no_phone_or_birth_year(client, leader):
    credential = badge_ensure(member=leader).credential
    html = client.get(
        reverse("core:verify", args=[credential.code]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Nguyễn Thị Ánh Tuyết" in html
    assert "Tổ CNSC Khu phố 1" in html
    assert "Phường Thủ Dầu Một" in html
    for personal in ("912", "345 678", "+84", "1979"):
        assert personal not in html


# --- The printed card -----------------------------------------------------------------------


def test_the_card_carries_every_fact_in_vietnamese_letters_intact(leader):
    badge = badge_ensure(member=leader)
    content = english_pdf(badge_cards_pdf, [badge], title="Thẻ thành viên")
    assert pdf_pages(content) == 1
    text = pdf_text(content)[0]
    for expected in (
        "PHƯỜNG THỦ DẦU MỘT · THÀNH PHỐ HỒ CHÍ MINH",
        "COMMUNITY DIGITAL TECHNOLOGY TEAM",
        "Nguyễn Thị Ánh Tuyết",
        "Leader",
        "Tổ CNSC Khu phố 1",
        "Khu phố 1",
        "Phường Thủ Dầu Một",
        f"Valid until: {badge.credential.valid_until:%d/%m/%Y}",
        f"Code: {format_code(badge.credential.code)}",
    ):
        assert expected in text
    for personal in ("912", "345 678", "1979"):
        assert personal not in text


def test_the_card_printed_in_vietnamese_reads_back_letter_for_letter(leader):
    badge = badge_ensure(member=leader)
    with translation.override("vi"):
        content = badge_cards_pdf([badge], title="Thẻ thành viên")
        expected = {
            translation.gettext("Community digital technology team").upper(),
            translation.gettext("Member badge").upper(),
            translation.gettext("Leader"),
            translation.gettext("Area"),
            translation.gettext("Commune/ward"),
            translation.gettext("Scan to check"),
            f"{translation.gettext('Valid until')}: {badge.credential.valid_until:%d/%m/%Y}",
            f"{translation.gettext('Code')}: {format_code(badge.credential.code)}",
        }
    with translation.override("en"):
        english = {translation.gettext("Leader"), translation.gettext("Scan to check")}
    text = pdf_text(content)[0]
    # The labels are the Vietnamese ones, not the English source, and come back intact.
    assert not english & set(text.splitlines())
    for line in expected | {"Nguyễn Thị Ánh Tuyết", "Tổ CNSC Khu phố 1", "Phường Thủ Dầu Một"}:
        assert line in text


LONG_TEAM = "Tổ CNSC Trung tâm Viễn thông Thủ Dầu Một – VNPT Thành phố Hồ Chí Minh"
LONG_ORGANISATION = "Trung tâm Viễn thông Thủ Dầu Một thuộc VNPT Thành phố Hồ Chí Minh"
_FONTS = {"BeVietnamPro-Regular": pdf.FONT}


def _right_edge(run: TextRun) -> float:
    return run.x + pdf.text_width(run.text, font=_FONTS.get(run.font, run.font), size=run.size)


@pytest.mark.parametrize(
    ("holder", "whole"),
    [("Lê Văn Cường", True), ("Tôn Thất Nguyễn Hoàng Bảo Khánh Ngọc Anh", False)],
)
def test_long_team_and_organisation_names_stay_clear_of_the_qr_code(hamlet, holder, whole):
    team = team_create(
        commune=hamlet.commune,
        kind=TeamKind.ORGANISATION,
        name=LONG_TEAM,
        organisation_name=LONG_ORGANISATION,
        code="VNPT",
    )
    member = enrol(team, full_name=holder).member
    runs = pdf_text_runs(english_pdf(badge_cards_pdf, [badge_ensure(member=member)], title="Thẻ"))
    caption = next(r for r in runs if r.text == "Scan to check")
    qr_left = (caption.x + _right_edge(caption)) / 2 - QR_SIZE / 2
    footer = next(r for r in runs if r.text.startswith("Valid until"))
    body = [r for r in runs if footer.y < r.y < CARD_HEIGHT - 12.5 * mm and r is not caption]
    assert len(body) >= 8
    for run in body:
        assert _right_edge(run) <= qr_left, run
        assert run.size >= 5.5, run
        assert run.y - footer.y >= 5 * mm, run  # clear of the footer's rule
    values = " ".join(r.text for r in body)
    if whole:
        # With a one-line name there is room for both on two lines each, word for word.
        assert LONG_TEAM in values
        assert LONG_ORGANISATION in values
    else:
        # Under a two-line name they are cut, visibly, after a whole word.
        assert "Tổ CNSC Trung tâm Viễn thông" in values
        assert values.count("…") == 2
    assert "Phường Thủ Dầu Một" in values


OVERLONG_TEAM = (
    "Tổ Công nghệ số cộng đồng Bưu điện Văn hóa và Doanh nghiệp Viễn thông phường Thủ Dầu Một "
    "thành phố Hồ Chí Minh"
)


def test_a_team_name_too_long_for_two_lines_loses_only_its_end(hamlet):
    """Cut after the second line, never between the two: the card reads as the start of the
    team's name, with "…" at the end only."""
    team = team_create(
        commune=hamlet.commune,
        kind=TeamKind.ORGANISATION,
        name=OVERLONG_TEAM,
        organisation_name="Bưu điện",
        code="BDVH",
    )
    member = enrol(team, full_name="Lê Văn Cường").member
    runs = pdf_text_runs(english_pdf(badge_cards_pdf, [badge_ensure(member=member)], title="Thẻ"))
    label = next(r for r in runs if r.text == "Team")
    below = next(r for r in runs if r.text == "Organisation")
    lines = sorted(
        (r for r in runs if below.y < r.y <= label.y + 0.5 and r is not label and r.x > label.x),
        key=lambda r: -r.y,
    )
    assert len(lines) == 2
    shown = " ".join(r.text for r in lines)
    assert shown.endswith("…")
    assert shown.count("…") == 1
    assert OVERLONG_TEAM.startswith(shown.removesuffix("…"))
    assert len(shown) > len(OVERLONG_TEAM) / 2
    assert min(r.size for r in lines) >= 5.5


def test_a_sheet_for_a_long_team_name_keeps_its_note_between_the_cut_marks(team, leader):
    """The note above the first card: page and printing advice whole, the title cut short, and
    nothing reaching the cut marks above the second column."""
    title = f"{OVERLONG_TEAM} — Phường Thủ Dầu Một"
    content = english_pdf(badge_sheets_pdf, team_badges_ensure(team=team), title=title)
    [note] = [r for r in pdf_text_runs(content) if "print at actual size (100%)" in r.text]
    assert note.text.endswith("· page 1 of 1 · print at actual size (100%)")
    assert title.startswith(note.text.split("… ·")[0])
    assert note.size == 6.5
    card_left = (A4[0] - 2 * CARD_WIDTH - COLUMN_GAP) / 2
    assert note.x >= card_left
    assert _right_edge(note) <= card_left + CARD_WIDTH


def test_the_card_is_bank_card_size(leader):
    from pypdf import PdfReader

    content = badge_cards_pdf([badge_ensure(member=leader)], title="Thẻ")
    box = PdfReader(io.BytesIO(content)).pages[0].mediabox
    assert round(float(box.width) / 72 * 25.4, 1) == 85.6
    assert round(float(box.height) / 72 * 25.4, 1) == 54.0


def test_the_cards_qr_code_opens_its_verify_page(leader):
    badge = badge_ensure(member=leader)
    content = badge_cards_pdf([badge], title="Thẻ")
    assert pdf_qr_codes(content) == [[verify_url(badge.credential.code)]]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler's pdftoppm")
def test_the_qr_code_scans_from_the_printed_page(leader, tmp_path):
    """As a phone sees it: the whole card rasterised at a modest 150 dpi, not the embedded
    image."""
    badge = badge_ensure(member=leader)
    source = tmp_path / "badge.pdf"
    source.write_bytes(badge_cards_pdf([badge], title="Thẻ"))
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(source), str(tmp_path / "badge")],
        check=True,
        timeout=60,
    )
    results = zxingcpp.read_barcodes(Image.open(tmp_path / "badge.png"))
    assert [r.text for r in results] == [verify_url(badge.credential.code)]


def test_a_long_name_goes_on_two_lines_rather_than_shrinking(team):
    name = "Công Tôn Nữ Thị Hoàng Phương Thảo"
    member = enrol(team, full_name=name).member
    text = pdf_text(badge_cards_pdf([badge_ensure(member=member)], title="Thẻ"))[0]
    assert "Công Tôn Nữ Thị\nHoàng Phương Thảo" in text


# --- The team's print sheet -----------------------------------------------------------------


def test_a_team_sheet_has_every_current_member_leaders_first_ten_to_a_page(team, leader):
    names = [f"Thành viên {n:02d}" for n in range(11)]
    for name in names:
        enrol(team, full_name=name)
    departed = enrol(team, full_name="Người Đã Rời")
    membership_end(membership=departed)

    badges = team_badges_ensure(team=team)
    assert [b.credential.holder_name for b in badges] == ["Nguyễn Thị Ánh Tuyết", *names]

    content = english_pdf(badge_sheets_pdf, badges, title="Tổ CNSC Khu phố 1")
    assert pdf_pages(content) == 2
    pages = pdf_text(content)
    assert "page 1 of 2" in pages[0]
    assert "Người Đã Rời" not in "".join(pages)
    assert pages[0].index("Nguyễn Thị Ánh Tuyết") < pages[0].index("Thành viên 00")
    codes = pdf_qr_codes(content)
    assert [len(page) for page in codes] == [10, 2]
    assert sorted(url for page in codes for url in page) == sorted(
        verify_url(b.credential.code) for b in badges
    )


def test_members_are_sorted_by_given_name_as_on_a_roster(team, leader):
    for name in ("Trần Văn Bình", "Võ Thị An", "Lê Văn Cường"):
        enrol(team, full_name=name)
    names = [b.credential.holder_name for b in team_badges_ensure(team=team)]
    assert names == ["Nguyễn Thị Ánh Tuyết", "Võ Thị An", "Trần Văn Bình", "Lê Văn Cường"]


# --- Downloads from the back office ---------------------------------------------------------


def member_url(member: Member) -> str:
    return reverse("badges:member", args=[member.code])


def team_url(team: Team) -> str:
    return reverse("badges:team", args=[team.commune.code, team.code])


def test_an_official_downloads_a_members_badge(client_of, official, leader):
    response = client_of(official).post(member_url(leader))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "badge-nguyen-thi-anh-tuyet.pdf" in response["Content-Disposition"]
    assert "Nguyễn Thị Ánh Tuyết" in pdf_text(response.content)[0]


def test_an_official_downloads_the_teams_sheet(client_of, official, team, leader):
    enrol(team, full_name="Trần Văn Bình")
    response = client_of(official).post(team_url(team))
    assert response.status_code == 200
    text = pdf_text(response.content)[0]
    assert "Nguyễn Thị Ánh Tuyết" in text
    assert "Trần Văn Bình" in text


def test_a_download_is_a_post(client_of, official, leader, team):
    assert client_of(official).get(member_url(leader)).status_code == 405
    assert client_of(official).get(team_url(team)).status_code == 405
    assert not Credential.objects.exists()


def test_an_outsider_gets_404_for_our_member_and_team(client_of, outsider, leader, team):
    client = client_of(outsider)
    assert client.post(member_url(leader)).status_code == 404
    assert client.post(team_url(team)).status_code == 404
    assert not Credential.objects.exists()


def test_read_only_accounts_get_403(client_of, province_reader, home_commune, leader, team):
    read_only_official = make_user(
        "ro-official", Role.COMMUNE_OFFICIAL, (home_commune,), read_only=True
    )
    for user in (province_reader, read_only_official):
        client = client_of(user)
        assert client.post(member_url(leader)).status_code == 403
        assert client.post(team_url(team)).status_code == 403
    assert not Credential.objects.exists()


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, leader):
    response = client.post(member_url(leader))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_member_in_no_team_is_sent_back_with_the_reason(client_of, official, home_commune):
    member = make_member(home_commune, full_name="Trần Văn Bình")
    client = client_of(official)
    response = client.post(member_url(member), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:team_member_change", args=[member.pk])
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "Trần Văn Bình is in no team now" in page.content.decode()


def action_request(user):
    request = RequestFactory().post("/admin/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_admin_action_prints_the_selected_members_and_names_those_skipped(
    official, leader, home_commune
):
    loner = make_member(home_commune, full_name="Trần Văn Bình")
    request = action_request(official)
    response = download_member_badges(
        None, request, Member.objects.visible_to(official).filter(pk__in=[leader.pk, loner.pk])
    )
    assert response is not None
    assert "Nguyễn Thị Ánh Tuyết" in pdf_text(response.content)[0]
    warnings = [str(m) for m in request._messages]
    assert any("Trần Văn Bình" in w for w in warnings)


def test_admin_action_prints_the_selected_teams(official, team, leader):
    request = action_request(official)
    response = download_team_badges(None, request, Team.objects.visible_to(official))
    assert response is not None
    issued = Credential.objects.get(revoked_at__isnull=True)
    assert issued.holder_name == leader.full_name
    assert pdf_qr_codes(response.content) == [[verify_url(issued.code)]]
