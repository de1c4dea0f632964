"""Invitations in the back office: the link and its QR code, shown once; scoped to the official's
communes; read-only users cannot make one."""

from __future__ import annotations

import base64
import io
import re

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image

from cnsc.bot.models import BotInvitation, TelegramAccount
from cnsc.bot.testing import Updates
from cnsc.core.testing import client_for

pytestmark = pytest.mark.django_db


def test_official_makes_an_invitation_with_link_and_qr(bot, member, official, settings):
    settings.TELEGRAM_BOT_USERNAME = "cnsc_tdm_bot"
    response = client_for(official).post(
        reverse("admin:bot_botinvitation_add"), {"member": member.pk}
    )
    assert response.status_code == 200
    html = response.content.decode()
    link = re.search(r'id="invitation-link">([^<]+)<', html).group(1)
    assert link.startswith("https://t.me/cnsc_tdm_bot?start=")
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html).group(1))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded[0].text == link
    invitation = BotInvitation.objects.get()
    assert invitation.created_by == official
    token = link.split("start=", 1)[1]
    assert token not in html.replace(link, "")  # shown only as the link itself
    bot.feed(Updates(321).command("start", token))
    assert TelegramAccount.objects.get(telegram_user_id=321).member == member


def test_outsider_cannot_invite_or_see_our_members(member, official, outsider):
    client = client_for(outsider)
    response = client.post(reverse("admin:bot_botinvitation_add"), {"member": member.pk})
    assert response.status_code == 200  # the form refuses the choice
    assert not BotInvitation.objects.exists()
    client_for(official).post(reverse("admin:bot_botinvitation_add"), {"member": member.pk})
    invitation = BotInvitation.objects.get()
    url = reverse("admin:bot_botinvitation_change", args=[invitation.pk])
    assert client.get(url).status_code == 404
    listing = client.get(reverse("admin:bot_botinvitation_changelist")).content.decode()
    assert member.full_name not in listing


def test_read_only_cannot_invite(member, province_reader):
    client = client_for(province_reader)
    response = client.post(reverse("admin:bot_botinvitation_add"), {"member": member.pk})
    assert response.status_code == 403
    assert not BotInvitation.objects.exists()


def test_accounts_are_scoped_and_can_be_unlinked(linked, official, outsider, province_reader):
    url = reverse("admin:bot_telegramaccount_delete", args=[linked.pk])
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(province_reader).post(url, {"post": "yes"}).status_code == 403
    assert client_for(official).post(url, {"post": "yes"}).status_code == 302
    assert not TelegramAccount.objects.exists()
