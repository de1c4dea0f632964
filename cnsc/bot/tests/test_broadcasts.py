"""Broadcasts: written in the back office, one delivery per recipient, sent in the background
within Telegram's limits; blocked recipients, "retry after", network trouble and a worker
restart each handled without losing or repeating a message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from telegram import Bot

from cnsc.bot.models import Broadcast, BroadcastDelivery, DeliveryState, LinkMethod, TelegramAccount
from cnsc.bot.services import broadcast_create
from cnsc.bot.tasks import deliver_queued, send_broadcasts
from cnsc.bot.testing import TOKEN, FakeTelegram
from cnsc.core.testing import client_for, make_user
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db


def link(member, user_id):
    return TelegramAccount.objects.create(
        member=member, telegram_user_id=user_id, chat_id=user_id, linked_by=LinkMethod.CONTACT
    )


@pytest.fixture
def recipients(team, linked):
    blocker = enrol(team, full_name="Người Chặn").member
    busy = enrol(team, full_name="Người Bận").member
    unlinked = enrol(team, full_name="Chưa Liên Kết").member
    link(blocker, 501)
    link(busy, 502)
    return {"ok": linked.member, "blocker": blocker, "busy": busy, "unlinked": unlinked}


def state_of(member):
    return BroadcastDelivery.objects.get(member=member)


def test_delivery_states_blocked_retry_after_and_not_linked(team, recipients, official):
    telegram = FakeTelegram()
    telegram.fail_chat[501] = (403, "Forbidden: bot was blocked by the user", None, None)
    telegram.fail_chat[502] = (429, "Too Many Requests: retry after 7", {"retry_after": 7}, 1)
    broadcast_create(commune=team.commune, text="Họp tổ lúc 19h", teams=[team], by=official)
    assert state_of(recipients["unlinked"]).state == DeliveryState.FAILED
    assert state_of(recipients["unlinked"]).reason == "Not linked to the bot."

    result = deliver_queued(Bot(TOKEN, request=telegram))
    assert state_of(recipients["blocker"]).state == DeliveryState.BLOCKED
    busy = state_of(recipients["busy"])
    assert busy.state == DeliveryState.QUEUED
    assert busy.not_before > timezone.now() + dt.timedelta(seconds=5)
    assert result.resume_at is not None
    # The next run is scheduled for when Telegram allows it, not slept through.
    queued = DBTaskResult.objects.order_by("enqueued_at").last()
    assert queued is not None
    assert queued.task_path == send_broadcasts.module_path
    assert queued.run_after >= result.resume_at - dt.timedelta(seconds=1)

    # Whatever was claimed after the refusal waits too; time passes, the worker runs again.
    BroadcastDelivery.objects.filter(state=DeliveryState.QUEUED).update(not_before=timezone.now())
    deliver_queued(Bot(TOKEN, request=telegram))
    assert state_of(recipients["busy"]).state == DeliveryState.SENT
    assert state_of(recipients["ok"]).state == DeliveryState.SENT
    sent_to = [int(c.params["chat_id"]) for c in telegram.sent()]
    # The blocked chat was tried once and never again; everyone else got exactly one message.
    assert sorted(sent_to) == [501, 502, 502, recipients["ok"].telegram.chat_id]
    assert telegram.sent()[-1].params["text"] == "Họp tổ lúc 19h"


def test_network_trouble_is_retried_then_given_up(team, linked, official):
    telegram = FakeTelegram()
    chat = linked.chat_id
    telegram.fail_chat[chat] = (502, "Bad Gateway", None, None)
    broadcast_create(commune=team.commune, text="Thông báo", members=[linked.member], by=official)
    for attempt in range(1, 5):
        BroadcastDelivery.objects.filter(state=DeliveryState.QUEUED).update(
            not_before=timezone.now()
        )
        deliver_queued(Bot(TOKEN, request=telegram))
        delivery = state_of(linked.member)
        assert delivery.attempts == attempt
    assert delivery.state == DeliveryState.FAILED
    assert "Bad Gateway" in delivery.reason


def test_a_worker_restart_loses_nothing_and_repeats_nothing(team, recipients, official):
    telegram = FakeTelegram()
    broadcast_create(commune=team.commune, text="Lịch trực", teams=[team], by=official)
    # A run cut short after its time is up (as when the worker is stopped).
    deliver_queued(Bot(TOKEN, request=telegram), run_seconds=0)
    assert telegram.sent() == []
    assert BroadcastDelivery.objects.filter(state=DeliveryState.QUEUED).count() == 3
    deliver_queued(Bot(TOKEN, request=telegram))
    deliver_queued(Bot(TOKEN, request=telegram))
    assert BroadcastDelivery.objects.filter(state=DeliveryState.SENT).count() == 3
    assert len(telegram.sent()) == 3


def test_the_task_is_enqueued_when_a_broadcast_is_made(
    team, linked, official, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_create(commune=team.commune, text="Chào", members=[linked.member], by=official)
    # Queued in the database, where the worker (`manage.py db_worker`) finds it after a restart.
    queued = DBTaskResult.objects.get()
    assert queued.task_path == send_broadcasts.module_path
    assert queued.status == "READY"


# --- Back office ------------------------------------------------------------------------------


def test_official_sends_a_broadcast_from_the_back_office(
    team, recipients, official, django_capture_on_commit_callbacks
):
    client = client_for(official)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:bot_broadcast_add"),
            {"commune": team.commune_id, "text": "Họp tổ", "teams": [team.pk]},
        )
    assert response.status_code == 302, response.content[:2000]
    broadcast = Broadcast.objects.get()
    assert broadcast.created_by == official
    assert broadcast.deliveries.count() == 4
    page = client.get(reverse("admin:bot_broadcast_change", args=[broadcast.pk]))
    assert page.status_code == 200
    assert "Chưa Liên Kết" in page.content.decode()


def test_broadcast_choices_are_scoped(team, recipients, official, outsider, other_hamlet):
    theirs = make_team(other_hamlet, name="Tổ Hà Nội")
    response = client_for(official).post(
        reverse("admin:bot_broadcast_add"),
        {"commune": team.commune_id, "text": "x", "teams": [theirs.pk]},
    )
    assert response.status_code == 200
    assert not Broadcast.objects.exists()
    response = client_for(outsider).post(
        reverse("admin:bot_broadcast_add"),
        {"commune": team.commune_id, "text": "x", "teams": [team.pk]},
    )
    assert response.status_code == 200
    assert not Broadcast.objects.exists()


def test_broadcast_outsider_and_read_only(team, recipients, official, outsider, province_reader):
    broadcast = broadcast_create(commune=team.commune, text="Nội bộ", teams=[team], by=official)
    url = reverse("admin:bot_broadcast_change", args=[broadcast.pk])
    assert client_for(outsider).get(url).status_code == 404
    listing = client_for(outsider).get(reverse("admin:bot_broadcast_changelist"))
    assert "Nội bộ" not in listing.content.decode()
    reader = client_for(province_reader)
    assert reader.get(url).status_code == 200
    response = reader.post(
        reverse("admin:bot_broadcast_add"),
        {"commune": team.commune_id, "text": "x", "teams": [team.pk]},
    )
    assert response.status_code == 403
    assert Broadcast.objects.count() == 1


def test_team_leader_cannot_broadcast(team, official):
    leader = make_user("leader", "team_leader")
    assert client_for(leader).get(reverse("admin:bot_broadcast_add")).status_code == 403
