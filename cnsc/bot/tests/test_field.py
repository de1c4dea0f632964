"""Check-ins, field reports, the worklist, figures, handbooks, help and language, and the
updates the bot must shrug off."""

from __future__ import annotations

import pytest
from django.utils import translation

from cnsc.bot.models import TelegramAccount
from cnsc.bot.testing import Updates
from cnsc.outreach.catalogue import Service
from cnsc.outreach.models import CheckIn, FieldReport, ReportCategory
from cnsc.outreach.tests.factories import done, image_bytes, make_head, make_household, record

pytestmark = pytest.mark.django_db

CENTRE = (10.9804, 106.6519)


def test_checkin_at_the_hamlet(bot, linked, you, placed_hamlet):
    bot.feed(you.location(CENTRE[0] + 0.001, CENTRE[1], accuracy=15))
    checkin = CheckIn.objects.get()
    assert checkin.hamlet == placed_hamlet
    assert checkin.member == linked.member
    assert checkin.warnings == []
    assert "Checked in at Khu phố 1" in bot.telegram.last_text()


def test_checkin_far_away_or_imprecise_is_stored_with_a_warning(bot, linked, you, settings):
    settings.CHECKIN_MAX_DISTANCE_M = 500
    bot.feed(you.location(CENTRE[0] + 0.02, CENTRE[1], accuracy=900))
    checkin = CheckIn.objects.get()
    assert set(checkin.warnings) == {"far", "inaccurate"}
    text = bot.telegram.last_text()
    assert "km from the hamlet's centre" in text
    assert "not precise" in text


def test_live_location_checks_in_once(bot, linked, you):
    bot.feed(you.location(*CENTRE, live=900))
    assert CheckIn.objects.count() == 1
    assert "Live location" in bot.telegram.last_text()


@pytest.mark.parametrize(
    "point",
    [
        (35.68, 139.69),  # Tokyo
        (10.0, 112.0),  # the South China Sea, inside the box around Vietnam
        (21.03, 105.85),  # Hà Nội: Vietnam, but hundreds of km from the team
    ],
)
def test_checkin_in_the_sea_or_abroad_is_refused(bot, linked, you, point):
    bot.feed(you.location(*point))
    assert not CheckIn.objects.exists()
    assert "sea or abroad" in bot.telegram.last_text()


def test_checkin_command_asks_for_the_location(bot, linked, you):
    bot.feed(you.command("checkin"))
    assert "request_location" in str(bot.telegram.sent()[-1].params["reply_markup"])


def test_field_report_with_photo_and_place(bot, linked, you, placed_hamlet):
    bot.telegram.add_file("p-9", image_bytes())
    bot.feed(you.command("report"))
    bot.press(you, str(ReportCategory.SCAM.label))
    bot.feed(you.text("Có người gọi điện giả danh công an"))
    bot.feed(you.photo("p-9", size=len(image_bytes())))
    bot.feed(you.location(*CENTRE))
    assert "Send this report" in bot.telegram.last_text()
    bot.press(you, "Send")
    report = FieldReport.objects.get()
    assert report.category == ReportCategory.SCAM
    assert report.reporter == linked.member
    assert report.hamlet == placed_hamlet
    assert report.photo
    assert report.latitude == pytest.approx(CENTRE[0])
    assert not CheckIn.objects.exists()  # the location belonged to the report


def test_field_report_without_photo_or_place(bot, linked, you):
    bot.feed(you.command("report"))
    bot.press(you, str(ReportCategory.CONNECTIVITY.label))
    bot.feed(you.text("Mất sóng cả khu"))
    bot.press(you, "Skip")
    bot.press(you, "Skip")
    bot.press(you, "Send")
    assert FieldReport.objects.get().text == "Mất sóng cả khu"


def test_tasks_are_paged(bot, linked, you, team):
    for number in range(1, 10):
        household = make_household(team, house_number=str(number), street="Hẻm 5")
        make_head(household, full_name=f"Chủ hộ {number}")
    bot.feed(you.command("tasks"))
    first_page = [label for label, _data in bot.telegram.last_buttons()]
    assert len([label for label in first_page if "Hẻm 5" in label]) == 6
    bot.press(you, "Next")
    second_page = [label for label, _data in bot.telegram.last_buttons() if "Hẻm 5" in label]
    assert len(second_page) == 3
    assert not set(second_page) & set(first_page)
    bot.press(you, "Previous")
    assert "page 1" in bot.telegram.last_text()


def test_stats(bot, linked, you, team):
    household = make_household(team, house_number="1")
    head = make_head(household, full_name="Chủ hộ")
    record(linked.member, household, [done(head, Service.VNEID)])
    bot.feed(you.command("stats"))
    text = bot.telegram.last_text()
    assert "This week: 1 visits, 1 households; done 1" in text
    assert "number 1 of 1 teams" in text


def test_handbooks_none_published(bot, linked, you):
    bot.feed(you.command("handbook"))
    assert bot.telegram.last_text() == "No handbooks are published yet."


def test_handbooks_by_topic_and_the_pdf(bot, linked, you, home_commune, other_commune):
    from cnsc.training.models import Audience, BlockKind, Topic
    from cnsc.training.services import handbook_block_add, handbook_create, handbook_publish

    def publish(unit, title, topic):
        handbook = handbook_create(unit=unit, title=title, topic=topic, audience=Audience.MEMBERS)
        handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Nội dung")
        return handbook_publish(handbook=handbook)

    ours = publish(home_commune, "Kích hoạt VNeID mức 2", Topic.VNEID)
    publish(other_commune, "Cẩm nang Hà Nội", Topic.VNEID)
    bot.feed(you.command("handbook"))
    text = bot.telegram.last_text()
    assert "Kích hoạt VNeID mức 2" in text
    assert "Cẩm nang Hà Nội" not in text
    bot.press(you, "Kích hoạt VNeID")
    document = bot.telegram.sent("sendDocument")[-1]
    assert document.params["caption"] == ours.title
    assert document.files  # the PDF itself went up
    # Another commune's handbook cannot be asked for by its code.
    theirs = publish(other_commune, "Khác", Topic.VNEID)
    bot.feed(you.press(f"hb:{theirs.code}", 1))
    assert "no longer available" in bot.telegram.answers()[-1]


def test_help_and_language(bot, linked, you):
    bot.feed(you.command("help"))
    assert "/visit" in bot.telegram.last_text()
    bot.feed(you.command("lang"))
    bot.press(you, "English")
    assert TelegramAccount.objects.get().language == "en"
    bot.press(you, "Tiếng Việt")
    assert TelegramAccount.objects.get().language == "vi"
    with translation.override("vi"):
        assert bot.telegram.last_text() == translation.gettext(
            "I will write to you in English from now on."
        )


def test_unknown_and_malformed_updates_are_ignored(bot, linked, you):
    you_msg = you.text("x")
    weird = [
        {
            "update_id": 1,
            "my_chat_member": {
                "chat": you_msg["message"]["chat"],
                "from": you.user,
                "date": 1,
                "old_chat_member": {"status": "member", "user": you.user},
                "new_chat_member": {"status": "kicked", "user": you.user, "until_date": 0},
            },
        },
        {"update_id": 2, "edited_message": you_msg["message"]},
        {
            "update_id": 3,
            "message": {
                **you_msg["message"],
                "text": None,
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                },
            },
        },
        {
            "update_id": 4,
            "message": {
                **you_msg["message"],
                "chat": {"id": -100, "type": "supergroup", "title": "g"},
            },
        },
        {"update_id": 5},
    ]
    bot.feed(*weird)
    assert bot.telegram.texts() == []
    bot.feed(you.press("garbage-without-colon", 1), you.press("c:nope:x", 1))
    assert all("expired" in a for a in bot.telegram.answers())
    bot.feed(you.command("nosuchcommand"))
    assert "do not know this command" in bot.telegram.last_text()


def test_another_chat_member_cannot_use_my_buttons(bot, linked, you, member):
    bot.feed(you.command("report"))
    message_id, buttons = bot.telegram.keyboard()
    stranger = Updates(99999)
    bot.feed(stranger.press(buttons[0][1], message_id))
    assert "not linked" in bot.telegram.answers()[-1]
    assert not FieldReport.objects.exists()
