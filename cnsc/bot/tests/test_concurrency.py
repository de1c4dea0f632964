"""Several members at once: updates of different chats are handled side by side on the bot's
worker threads, one chat's updates one at a time and in the order they came."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from telegram import Update

from cnsc.bot.application import ChatOrderedUpdateProcessor, build_application
from cnsc.bot.models import LinkMethod, TelegramAccount
from cnsc.bot.testing import TOKEN, FakeTelegram, Updates
from cnsc.outreach.models import Visit
from cnsc.outreach.tests.factories import make_head, make_household
from cnsc.team.tests.factories import enrol


def _update(update_id: int, chat_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "A"},
                "text": "x",
            },
        },
        None,
    )


def test_one_chat_waits_for_its_turn_and_the_others_do_not():
    log: list[str] = []

    async def scenario() -> None:
        processor = ChatOrderedUpdateProcessor(2)
        first_may_finish = asyncio.Event()

        async def work(name: str, gate: asyncio.Event | None = None) -> None:
            log.append(f"{name} starts")
            if gate is not None:
                await gate.wait()
            log.append(f"{name} ends")

        a1 = asyncio.create_task(
            processor.process_update(_update(1, 10), work("A1", first_may_finish))
        )
        a2 = asyncio.create_task(processor.process_update(_update(2, 10), work("A2")))
        b1 = asyncio.create_task(processor.process_update(_update(3, 20), work("B1")))
        await b1  # chat B is not held up by chat A's slow update
        assert log == ["A1 starts", "B1 starts", "B1 ends"]
        first_may_finish.set()
        await asyncio.gather(a1, a2)
        # Nothing is kept for chats with nothing in flight.
        assert processor._locks == {}

    asyncio.run(scenario())
    assert log == ["A1 starts", "B1 starts", "B1 ends", "A1 ends", "A2 starts", "A2 ends"]


@pytest.mark.django_db(transaction=True)
def test_members_logging_visits_at_once_each_store_theirs_once(team):
    """Worker threads use connections of their own, so this test commits (transaction=True)."""
    chats = []
    for n in range(4):
        member = enrol(team, full_name=f"Thành viên {n}", phone=f"09123450{n:02d}").member
        TelegramAccount.objects.create(
            member=member,
            telegram_user_id=7000 + n,
            chat_id=7000 + n,
            linked_by=LinkMethod.INVITATION,
            language="en",
        )
        household = make_household(team, house_number=f"{n + 1}A", street="Đường Số {n}")
        make_head(household, full_name=f"Chủ hộ {n}", birth_year=1970)
        chats.append((member, household, Updates(7000 + n)))
    telegram = FakeTelegram()
    workers = 3
    application = build_application(token=TOKEN, request=telegram, polling=False, workers=workers)
    expected_workers = 1 if connection.vendor == "sqlite" else workers
    concurrent = application.update_processor.max_concurrent_updates > 1
    assert concurrent == (expected_workers > 1)
    steps: list[Any] = [
        ("text", "/visit"),
        ("text", None),
        ("press", "Chủ hộ"),
        ("press", "Done"),
        ("press", "VNeID"),
        ("press", "Done"),
        ("press", "Level 2"),
        ("press", "Finish"),
        ("press", "Skip"),
        ("text", "Đã hướng dẫn"),
        ("press", "Save"),
    ]

    async def member_chat(household: Any, you: Updates) -> None:
        processor = application.update_processor
        for kind, value in steps:
            if kind == "text" and value == "/visit":
                data = you.command("visit")
            elif kind == "text":
                data = you.text(value or household.house_number)
            else:
                message_id, buttons = telegram.keyboard(you.user_id)
                choice = next(d for label, d in buttons if value in label)
                data = you.press(choice, message_id)
            update = Update.de_json(data, application.bot)
            await processor.process_update(update, application.process_update(update))

    async def scenario() -> None:
        async with application:
            await asyncio.gather(*(member_chat(h, you) for _m, h, you in chats))

    async_to_sync(scenario)()
    # Stopping the application stopped the workers and closed their connections.
    assert getattr(application.update_processor, "workers", None) is None
    for member, household, _you in chats:
        visit = Visit.objects.get(member=member)
        assert visit.household == household
        assert visit.notes == "Đã hướng dẫn"
    assert Visit.objects.count() == len(chats)
