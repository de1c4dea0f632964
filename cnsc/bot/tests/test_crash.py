"""Crash safety of the bot and the broadcast worker with real processes, against a database of
their own (cnsc/bot/tests/crash_child.py). The bot is killed (SIGKILL) in the middle of visit
conversations and Telegram delivers the same updates again to a new process: every visit is
stored exactly once. The worker (the real ``db_worker``) is killed while a message is in flight
and started again: every member gets the notice exactly once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from cnsc.bot.models import BroadcastDelivery, DeliveryState, LinkMethod, TelegramAccount
from cnsc.bot.services import broadcast_create, deliveries_claim
from cnsc.core.testing_processes import Child, ChildDatabase, run
from cnsc.team.tests.factories import enrol

CHILD = ["-m", "cnsc.bot.tests.crash_child"]
CHATS, HOUSES = 8, 4
RECIPIENTS = 40


def test_updates_redelivered_after_a_kill_store_each_visit_once(child_db, tmp_path):
    journal = tmp_path / "telegram-updates.jsonl"
    run([*CHILD, "setup", str(CHATS), str(HOUSES)], child_db.env, timeout=60)
    driver = Child.start(
        [*CHILD, "drive", str(journal), str(CHATS * HOUSES), str(CHATS), str(HOUSES)],
        child_db.env,
    )
    # Killed in the middle of the fourth round of updates: conversations at every step.
    driver.wait_for(lambda line: line == "update 140", timeout=50)
    driver.kill()
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    saves = sum(entry["save"] for entry in entries)
    assert saves > 0
    assert child_db.value("SELECT COUNT(*) FROM outreach_visit") <= saves
    lines = run([*CHILD, "replay", str(journal)], child_db.env, timeout=60)
    assert f"replayed {len(entries)}" in lines
    assert child_db.value("SELECT COUNT(*) FROM outreach_visit") == saves
    assert not child_db.rows(
        "SELECT household_id FROM outreach_visit GROUP BY household_id HAVING COUNT(*) > 1"
    )
    assert child_db.value("SELECT COUNT(*) FROM outreach_visitoutcome") == saves
    assert child_db.value("SELECT COUNT(*) FROM bot_processedupdate") == len(entries)


def delivered(log) -> list[int]:
    return [int(json.loads(line)["chat_id"]) for line in log.read_text().splitlines()]


def deliveries(db: ChildDatabase) -> dict[str, int]:
    return dict(db.rows("SELECT state, COUNT(*) FROM bot_broadcastdelivery GROUP BY state"))


def test_a_worker_killed_mid_delivery_and_restarted_sends_each_notice_once(child_db, tmp_path):
    log = tmp_path / "telegram-accepted.jsonl"
    log.touch()
    run([*CHILD, "setup", str(RECIPIENTS), "0"], child_db.env, timeout=60)
    run([*CHILD, "broadcast"], child_db.env, timeout=60)
    worker = Child.start([*CHILD, "worker", str(log), "15"], child_db.env)
    worker.wait_for(lambda line: line == "in flight", timeout=50)
    worker.kill()
    # 14 accepted by Telegram and marked sent; the 15th was in flight, never answered.
    assert delivered(log) == sorted(set(delivered(log)), key=delivered(log).index)
    assert len(delivered(log)) == 14
    assert deliveries(child_db) == {"sent": 14, "queued": RECIPIENTS - 14}
    # Five minutes pass: the dead worker's claim runs out on every row it took, the sent ones
    # included, then the send job runs again (the next notice or `send_broadcasts` queues it:
    # see the test below). Only the state of a row keeps a sent notice from going out again.
    child_db.execute(
        "UPDATE bot_broadcastdelivery SET not_before = %s",
        [timezone.now() - dt.timedelta(seconds=1)],
    )
    run([*CHILD, "enqueue"], child_db.env, timeout=60)
    run([*CHILD, "worker", str(log)], child_db.env, timeout=60)
    chats = delivered(log)
    assert len(chats) == RECIPIENTS
    assert len(set(chats)) == RECIPIENTS
    assert deliveries(child_db) == {"sent": RECIPIENTS}


@pytest.mark.django_db
def test_a_worker_killed_mid_run_leaves_a_send_job_to_run(
    team, official, django_capture_on_commit_callbacks
):
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    for n in range(3):
        member = enrol(team, full_name=f"Người nhận {n}").member
        TelegramAccount.objects.create(
            member=member, telegram_user_id=700 + n, chat_id=700 + n, linked_by=LinkMethod.CONTACT
        )
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_create(commune=team.commune, text="Họp tổ", teams=[team], by=official)
    # What a worker killed mid-run leaves: its task claimed, the deliveries claimed, none sent.
    DBTaskResult.objects.get().claim("dead-worker")
    deliveries_claim(now=timezone.now(), limit=100)
    assert BroadcastDelivery.objects.filter(state=DeliveryState.QUEUED).count() == 3
    # A restarted worker runs only READY tasks (now or later): one must be there.
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
