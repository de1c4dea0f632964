"""Updates Telegram would never send, or sends rarely (cnsc/core/tests/corpus/updates.json):
fields missing, of the wrong type, absurd numbers, control characters, oversized. The webhook
answers 400 or 413 for what cannot be read; whatever it accepts goes through the real
Application without the handler failing, and nothing half-written remains."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from telegram import Update

from cnsc.bot.models import ProcessedUpdate
from cnsc.bot.testing import Harness
from cnsc.bot.webhook import MAX_BODY, accept
from cnsc.core.tests.corpus import CORPUS
from cnsc.outreach.models import CheckIn, FieldReport, Visit

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-0123456789"
PATH = "/telegram"
HEADERS = [(b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode())]
USER = {"id": 4242, "is_bot": False, "first_name": "An", "language_code": "en"}
CHAT = {"id": 4242, "type": "private", "first_name": "An"}


def corpus() -> list[tuple[str, dict[str, Any]]]:
    cases = [(c["case"], c["update"]) for c in json.loads((CORPUS / "updates.json").read_text())]
    # Kept out of the file for their size.
    cases.append(
        (
            "text of 100,000 characters",
            {
                "update_id": 200,
                "message": {
                    "message_id": 1,
                    "from": USER,
                    "chat": CHAT,
                    "date": 1767225600,
                    "text": "a" * 100_000,
                },
            },
        )
    )
    cases.append(
        (
            "callback data of 10,000 characters",
            {
                "update_id": 201,
                "callback_query": {
                    "id": "9",
                    "from": USER,
                    "chat_instance": "1",
                    "data": "v:" + "x" * 10_000,
                },
            },
        )
    )
    return cases


CASES = corpus()


def post(application: Any, body: bytes, headers: list[tuple[bytes, bytes]] = HEADERS) -> int:
    async def call() -> int:
        return await accept(
            application,
            method=b"POST",
            target=PATH.encode(),
            headers=headers,
            body=body,
            path=PATH,
            secret=SECRET,
        )

    return async_to_sync(call)()


@pytest.mark.parametrize(("case", "update"), CASES, ids=[c for c, _u in CASES])
def test_a_hostile_update_is_refused_or_handled_without_failing(case, update, linked, caplog):
    harness = Harness()
    status = post(harness.application, json.dumps(update).encode())
    assert status in (200, 400), case
    if status == 400:
        return
    with caplog.at_level(logging.WARNING, logger="cnsc.bot"):
        data = Update.de_json(update, harness.application.bot)

        async def process() -> None:
            async with harness.application:
                await harness.application.process_update(data)

        async_to_sync(process)()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]
    # Nothing that needs a conversation was stored from a single stray update.
    assert not Visit.objects.exists()
    assert not FieldReport.objects.exists()


def test_the_same_hostile_updates_twice_are_handled_once(linked):
    harness = Harness()
    readable = [u for _c, u in CASES if post(harness.application, json.dumps(u).encode()) == 200]
    harness.feed(*readable)
    handled = ProcessedUpdate.objects.count()
    replies = len(harness.telegram.texts())
    harness.feed(*readable)
    assert ProcessedUpdate.objects.count() == handled
    # Button presses are answered again (the spinner stops); nothing is said twice.
    assert len(harness.telegram.texts()) == replies
    assert not CheckIn.objects.exclude(latitude__range=(8, 24)).exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"not json", 400),
        (b"[]", 400),
        (b"null", 400),
        (b'{"update_id": 1.5}', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),  # nesting deeper than the parser recurses
        (b'{"update_id": 1, "message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
        (b'{"update_id": 1, "pad": "' + b"x" * (MAX_BODY + 1) + b'"}', 413),
    ],
)
def test_unreadable_and_oversized_bodies_are_refused(body, status, linked):
    harness = Harness()
    assert post(harness.application, body) == status
    assert not ProcessedUpdate.objects.exists()


def test_a_hostile_update_without_the_secret_is_refused_unread(linked):
    harness = Harness()
    body = json.dumps(CASES[0][1]).encode()
    assert post(harness.application, body, headers=[]) == 403
    assert post(harness.application, body, headers=[(HEADERS[0][0], b"x" * 10_000)]) == 403


def test_a_report_typed_with_a_nul_byte_is_stored_without_it(bot, linked, you):
    # PostgreSQL refuses NUL in text: the report would fail to save and the member be told
    # "something went wrong" at every try.
    from cnsc.outreach.models import ReportCategory

    bot.feed(you.command("report"))
    bot.press(you, str(ReportCategory.SCAM.label))
    bot.feed(you.text("Có người gọi\x00 điện giả danh công an"))
    bot.press(you, "Skip")
    bot.press(you, "Skip")
    bot.press(you, "Send")
    assert FieldReport.objects.get().text == "Có người gọi điện giả danh công an"
