"""Linking a Telegram account: invitation links (single use, expiring), shared contacts (own
number only), and what everyone else is told."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cnsc.bot.models import BotInvitation, TelegramAccount
from cnsc.bot.services import invitation_create
from cnsc.bot.testing import Updates
from cnsc.team.services import membership_end

pytestmark = pytest.mark.django_db


def test_invitation_links_the_account_once(bot, member, official):
    invitation, token = invitation_create(member=member, by=official)
    assert len(token) <= 64
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert invitation.token_hash != token
    assert token not in invitation.token_hash
    you = Updates(555)
    bot.feed(you.command("start", token))
    account = TelegramAccount.objects.get(telegram_user_id=555)
    assert account.member == member
    assert account.chat_id == 555
    assert "Trần Thị Hoa" in bot.telegram.last_text()
    # Someone else opening the same link later gets nothing.
    stranger = Updates(556)
    bot.feed(stranger.command("start", token))
    assert "already been used" in bot.telegram.last_text()
    assert not TelegramAccount.objects.filter(telegram_user_id=556).exists()


def test_expired_invitation_is_refused(bot, member, official):
    invitation, token = invitation_create(member=member, by=official)
    BotInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    bot.feed(Updates(555).command("start", token))
    assert "expired" in bot.telegram.last_text()
    assert not TelegramAccount.objects.exists()


def test_newer_invitation_replaces_the_older(bot, member, official):
    _first, old = invitation_create(member=member, by=official)
    _second, new = invitation_create(member=member, by=official)
    bot.feed(Updates(555).command("start", old))
    assert "newer invitation" in bot.telegram.last_text()
    bot.feed(Updates(555).command("start", new))
    assert TelegramAccount.objects.get(telegram_user_id=555).member == member


def test_forged_token_is_refused(bot, member):
    bot.feed(Updates(555).command("start", "A" * 43))
    assert "not valid" in bot.telegram.last_text()
    bot.feed(Updates(555).command("start", "x" * 300))
    assert "not valid" in bot.telegram.last_text()
    assert not TelegramAccount.objects.exists()


def test_own_contact_links_a_member(bot, member):
    you = Updates(777)
    bot.feed(you.contact(member.phone.lstrip("+"), user_id=777))
    assert TelegramAccount.objects.get(telegram_user_id=777).member == member


def test_someone_elses_contact_is_refused(bot, member):
    you = Updates(777)
    bot.feed(you.contact(member.phone, user_id=888))
    assert "your own phone number" in bot.telegram.last_text()
    bot.feed(you.contact(member.phone, user_id=None))
    assert not TelegramAccount.objects.exists()


def test_contact_of_nobody_on_a_roster_is_refused(bot, member):
    bot.feed(Updates(777).contact("+84987654321", user_id=777))
    assert "No team member" in bot.telegram.last_text()
    bot.feed(Updates(777).contact("+14155550100", user_id=777))
    assert "Vietnamese" in bot.telegram.last_text()
    assert not TelegramAccount.objects.exists()


def test_contact_of_an_already_linked_member_is_refused(bot, linked):
    bot.feed(Updates(999).contact(linked.member.phone, user_id=999))
    assert "No team member" in bot.telegram.last_text()
    assert TelegramAccount.objects.get().telegram_user_id == linked.telegram_user_id


def test_unlinked_user_is_told_how_to_get_an_invitation(bot, db):
    you = Updates(31337)
    bot.feed(you.command("help"), you.text("xin chào"), you.command("tasks"))
    texts = bot.telegram.texts()
    assert len(texts) == 3
    assert all("invitation" in t for t in texts)
    markup = bot.telegram.sent()[-1].params["reply_markup"]
    assert "request_contact" in str(markup)
    # A button press gets an alert, not a crash.
    bot.feed(you.press("c:XXXX:ok", 1))
    assert "not linked" in bot.telegram.answers()[-1]


def test_member_who_left_the_team_loses_access_at_once(bot, linked, you):
    bot.feed(you.command("help"))
    assert "/visit" in bot.telegram.last_text()
    membership_end(membership=linked.member.memberships.get())
    bot.feed(you.command("tasks"))
    assert "not in an active team" in bot.telegram.last_text()
    # And cannot link again with an invitation either.
    _inv, token = invitation_create(member=linked.member, by=None)
    bot.feed(Updates(12).command("start", token))
    assert "not in an active team" in bot.telegram.last_text()
