"""Logging a visit through the bot: every step fed as real update JSON, the visit stored once,
a restart in the middle, time asked when the message came late, and editing within the window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cnsc.bot.models import BotConversation, ProcessedUpdate
from cnsc.bot.testing import Harness
from cnsc.outreach.catalogue import Result, Service, State
from cnsc.outreach.models import ServiceState, Visit, VisitSource
from cnsc.outreach.tests.factories import image_bytes, make_head, make_household, make_resident
from cnsc.team.tests.factories import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(team):
    household = make_household(team, house_number="12/3", street="Đường Yersin")
    make_head(household, full_name="Nguyễn Văn Ánh", birth_year=1960)
    make_resident(household, full_name="Lê Thị Bông", sex="female", birth_year=1995)
    return household


def log_visit(bot, you, household_search="nguyen van anh"):
    bot.feed(you.command("visit"))
    bot.feed(you.text(household_search))
    bot.press(you, "Nguyễn Văn Ánh")  # tick the head
    bot.press(you, "Done")
    bot.press(you, str(Service.VNEID.label))
    bot.press(you, str(Result.DONE.label))
    bot.press(you, str(State.LEVEL2.label))
    bot.press(you, "Finish")
    bot.press(you, "Skip")  # photo
    bot.feed(you.text("Đã kích hoạt VNeID mức 2"))


def test_a_whole_visit_is_stored_once(bot, linked, you, household):
    log_visit(bot, you)
    assert "Save this visit?" in bot.telegram.last_text()
    assert "Level 2" in bot.telegram.last_text()
    message_id, buttons = bot.telegram.keyboard()
    save = next(data for label, data in buttons if "Save" in label)
    bot.feed(you.press(save, message_id))
    visit = Visit.objects.get()
    assert visit.source == VisitSource.BOT
    assert visit.member == linked.member
    assert visit.household == household
    assert visit.notes == "Đã kích hoạt VNeID mức 2"
    assert visit.idempotency_key == f"tg:{you.user_id}:{message_id}"
    outcome = visit.outcomes.get()
    assert (outcome.service, outcome.result, outcome.new_state) == ("vneid", "done", "level2")
    assert ServiceState.objects.get(resident=household.head).state == State.LEVEL2
    assert "Saved" in bot.telegram.last_text()
    assert not BotConversation.objects.exists()
    # The same press again (a double tap) answers "expired" and stores nothing more.
    bot.feed(you.press(save, message_id))
    assert Visit.objects.count() == 1
    assert "expired" in bot.telegram.answers()[-1]


def test_the_same_update_delivered_twice_is_handled_once(bot, linked, you, household):
    log_visit(bot, you)
    message_id, buttons = bot.telegram.keyboard()
    save = you.press(next(d for label, d in buttons if "Save" in label), message_id)
    bot.telegram.clear()
    bot.feed(save, save)
    assert Visit.objects.count() == 1
    assert len(bot.telegram.sent("editMessageText")) == 1
    assert ProcessedUpdate.objects.filter(key=f"tg:{save['update_id']}").count() == 1


def test_a_restart_in_the_middle_continues_the_visit(linked, you, household):
    first = Harness()
    first.feed(you.command("visit"), you.text("12/3"))
    first.press(you, "Nguyễn Văn Ánh")
    message_id, buttons = first.telegram.keyboard()
    # The bot process restarts: a new Application, nothing carried over in memory.
    second = Harness()
    done = next(data for label, data in buttons if "Done" in label)
    second.feed(you.press(done, message_id))
    assert "which service" in second.telegram.last_text()
    for label in (str(Service.PAYMENT.label), str(Result.REFUSED.label), "Finish", "Skip", "Skip"):
        second.press(you, label)
    second.press(you, "Save")
    visit = Visit.objects.get()
    assert visit.outcomes.get().result == Result.REFUSED


def test_household_by_code_and_by_worklist_button(bot, linked, you, household, team):
    other = make_household(team, house_number="99", street="Lê Lợi")
    make_head(other, full_name="Phạm Văn Cường")
    bot.feed(you.command("visit"), you.text(other.code))
    assert "Phạm Văn Cường" in bot.telegram.last_text()
    bot.feed(you.command("cancel"))
    assert "Cancelled" in bot.telegram.last_text()
    bot.feed(you.command("tasks"))
    bot.press(you, "Lê Lợi")
    assert "Phạm Văn Cường" in bot.telegram.last_text()


def test_another_teams_household_cannot_be_found(bot, linked, you, household, hamlet):
    other_team = make_team(hamlet, name="Tổ khác", code="KHAC")
    theirs = make_household(other_team, house_number="7", street="Bạch Đằng")
    make_head(theirs, full_name="Đỗ Thị Duyên")
    bot.feed(you.command("visit"), you.text("do thi duyen"), you.text(theirs.code))
    assert "No household of your team" in bot.telegram.last_text()
    bot.feed(you.press(f"hh:{theirs.code}", 1))
    assert "not on your team's list" in bot.telegram.answers()[-1]


def test_late_message_asks_when_the_visit_happened(bot, linked, you, household):
    written = timezone.now() - dt.timedelta(hours=3)
    bot.feed(you.command("visit", date=written))
    bot.feed(you.text("12/3"))
    assert "When did the visit happen?" in bot.telegram.last_text()
    bot.press(you, "At ")
    for label in ("Done", "Skip", "Skip", "Save"):
        bot.press(you, label)
    visit = Visit.objects.get()
    assert abs(visit.happened_at - written) < dt.timedelta(seconds=2)


def test_typed_time_and_a_photo(bot, linked, you, household):
    bot.telegram.add_file("photo-1", image_bytes())
    bot.feed(you.command("visit", date=timezone.now() - dt.timedelta(hours=1)), you.text("12/3"))
    bot.feed(you.text("nonsense"))
    assert "could not read" in bot.telegram.last_text()
    local_now = timezone.localtime()
    earlier = local_now - dt.timedelta(minutes=45)
    bot.feed(you.text(earlier.strftime("%H:%M")))
    bot.press(you, "Lê Thị Bông")
    bot.press(you, "Done")
    bot.press(you, str(Service.PAYMENT.label))
    bot.press(you, str(Result.STARTED.label))
    bot.press(you, "Finish")
    bot.feed(you.photo("photo-1", size=len(image_bytes())))
    assert any(c.method == "download" for c in bot.telegram.calls)
    bot.press(you, "Skip")  # note
    assert "Photo: yes" in bot.telegram.last_text()
    bot.press(you, "Save")
    visit = Visit.objects.get()
    assert visit.photos.count() == 1
    assert timezone.localtime(visit.happened_at).strftime("%H:%M") == earlier.strftime("%H:%M")


def test_a_photo_too_big_is_refused_politely(bot, linked, you, household, settings):
    settings.VISIT_PHOTO_MAX_BYTES = 1000
    bot.feed(you.command("visit"), you.text("12/3"))
    bot.press(you, "Done")  # nobody ticked: straight to the photo
    bot.feed(you.photo("huge", size=5_000_000))
    assert "too large" in bot.telegram.last_text()
    assert not any(c.method in ("getFile", "download") for c in bot.telegram.calls)
    assert BotConversation.objects.get().state == "photo"


def test_cancel_at_any_step(bot, linked, you, household):
    bot.feed(you.command("visit"), you.text("12/3"))
    bot.press(you, "Nguyễn Văn Ánh")
    message_id, buttons = bot.telegram.keyboard()
    bot.feed(you.command("cancel"))
    assert "Nothing was saved" in bot.telegram.last_text()
    # A button of the cancelled flow has expired.
    bot.feed(you.press(buttons[0][1], message_id))
    assert "expired" in bot.telegram.answers()[-1]
    assert not Visit.objects.exists()


def test_edit_the_last_visit_within_the_window(bot, linked, you, household, settings):
    log_visit(bot, you)
    bot.press(you, "Save")
    bot.feed(you.command("edit"))
    bot.press(you, "Note")
    bot.feed(you.text("Sửa ghi chú"))
    assert Visit.objects.get().notes == "Sửa ghi chú"
    settings.VISIT_EDIT_WINDOW_MINUTES = 0
    bot.feed(you.command("edit"))
    assert "no visit recorded" in bot.telegram.last_text()


def test_member_moved_to_another_team_cannot_finish_the_visit(bot, linked, you, household, hamlet):
    from cnsc.team.services import member_move

    bot.feed(you.command("visit"), you.text("12/3"))
    for label in ("Done", "Skip", "Skip"):
        bot.press(you, label)
    member_move(member=linked.member, team=make_team(hamlet, name="Tổ mới", code="MOI"))
    bot.press(you, "Save")
    assert not Visit.objects.exists()
    assert "no longer covered" in bot.telegram.last_text()


def test_a_step_costs_a_handful_of_queries(bot, linked, you, household):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bot.feed(you.command("visit"), you.text("12/3"))
    with CaptureQueriesContext(connection) as queries:
        bot.press(you, "Nguyễn Văn Ánh")
    # Claim the update, who is writing, the conversation, its new state (and the savepoint the
    # test's transaction adds around them): the bot's share of a step stays this small.
    work = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(work) == 4, work
