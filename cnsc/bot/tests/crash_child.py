"""Child processes of the bot's crash tests (run with ``python -m``; the environment names the
database). Telegram is the fake transport of cnsc.bot.testing, with what it received kept in
files, so that it outlives the bot process as the real one does:

- ``setup CHATS HOUSES``: CHATS members linked to the bot, HOUSES households each, an official;
- ``drive JOURNAL VISITS``: visit conversations in CHATS chats at once, each update written to
  JOURNAL (what Telegram sent, and will send again until told it was handled) before the bot
  handles it;
- ``replay JOURNAL``: Telegram delivering every journaled update again, to a new bot process;
- ``broadcast``: the official sends a notice to every team (the send job is queued);
- ``worker LOG [HANG_AT]``: the real ``db_worker`` in batch mode, whose Bot API records each
  message Telegram accepted in LOG; the HANG_AT-th send hangs in flight (Telegram slow to answer)
  until the process is killed;
- ``enqueue``: the send job queued once more, as the next notice or ``send_broadcasts`` would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from telegram import Bot, Update  # noqa: E402

from cnsc.access.roles import Role  # noqa: E402
from cnsc.bot import application as bot_application  # noqa: E402
from cnsc.bot.models import LinkMethod, TelegramAccount  # noqa: E402
from cnsc.bot.services import broadcast_create  # noqa: E402
from cnsc.bot.tasks import send_broadcasts  # noqa: E402
from cnsc.bot.testing import TOKEN, FakeTelegram, Updates  # noqa: E402
from cnsc.core.testing import HOME_COMMUNE, make_user, unit  # noqa: E402
from cnsc.geo.models import Hamlet, HamletKind  # noqa: E402
from cnsc.outreach.models import Relation  # noqa: E402
from cnsc.outreach.services import household_create, resident_create  # noqa: E402
from cnsc.team.models import Team  # noqa: E402
from cnsc.team.tests.factories import enrol, make_team  # noqa: E402

FIRST_USER = 900_000
# One visit, as a member logs it: /visit, the house number, the resident, services and outcome,
# no photo, a note, Save. (label, kind) for button presses; texts are typed.
STEPS: list[tuple[str, str]] = [
    ("/visit", "command"),
    ("{house}", "text"),
    ("Chủ hộ", "button"),
    ("Done", "button"),
    ("VNeID", "button"),
    ("Done", "button"),
    ("Level 2", "button"),
    ("Finish", "button"),
    ("Skip", "button"),
    ("Đã hướng dẫn", "text"),
    ("Save", "button"),
]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def setup(chats: int, houses: int) -> None:
    commune = unit(HOME_COMMUNE)
    official = make_user("official", Role.COMMUNE_OFFICIAL, (commune,))
    hamlet = Hamlet.objects.create(commune=commune, name="Khu phố 1", kind=HamletKind.QUARTER)
    team = make_team(hamlet, code="KP1")
    for index in range(chats):
        member = enrol(team, full_name=f"Tổ viên {index}", sex="female", birth_year=1990).member
        TelegramAccount.objects.create(
            member=member,
            telegram_user_id=FIRST_USER + index,
            chat_id=FIRST_USER + index,
            linked_by=LinkMethod.INVITATION,
            language="en",  # the driver reads English labels
        )
        for number in range(houses):
            household = household_create(
                hamlet=hamlet, team=team, house_number=f"{index}-{number}", street="Hẻm"
            )
            resident_create(
                household=household,
                full_name=f"Chủ hộ {index}-{number}",
                relation_to_head=Relation.HEAD,
                birth_year=1970,
            )
    say(f"ready {official.username}")


def _bot(telegram: FakeTelegram) -> Any:
    return bot_application.build_application(token=TOKEN, request=telegram, polling=False)


def drive(journal: Path, visits: int, chats: int, houses: int) -> None:
    telegram = FakeTelegram()
    app = _bot(telegram)

    async def run() -> None:
        done = 0
        sent = 0
        state = [{"you": Updates(FIRST_USER + i), "step": 0, "house": 0} for i in range(chats)]
        with journal.open("a", encoding="utf-8") as out:
            async with app:
                while done < visits:
                    for chat in state:
                        label, kind = STEPS[chat["step"]]
                        you = chat["you"]
                        if kind == "command":
                            data = you.command(label[1:])
                        elif kind == "text":
                            text = label.format(house=f"{you.user_id - FIRST_USER}-{chat['house']}")
                            data = you.text(text)
                        else:
                            message_id, buttons = telegram.keyboard(you.user_id)
                            button = next(d for text, d in buttons if label in text)
                            data = you.press(button, message_id)
                        # Telegram holds the update before the bot sees it.
                        out.write(json.dumps({"save": label == "Save", "update": data}) + "\n")
                        out.flush()
                        os.fsync(out.fileno())
                        await app.process_update(Update.de_json(data, app.bot))
                        sent += 1
                        say(f"update {sent}")
                        chat["step"] += 1
                        if chat["step"] == len(STEPS):
                            chat["step"], chat["house"] = 0, chat["house"] + 1
                            done += 1
                            if done >= visits or chat["house"] >= houses:
                                break
                        if len(telegram.calls) > 5000:
                            telegram.calls = telegram.calls[-1000:]
        say(f"driven {sent}")

    asyncio.run(run())


def replay(journal: Path) -> None:
    entries = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    app = _bot(FakeTelegram())

    async def run() -> None:
        async with app:
            for entry in entries:
                await app.process_update(Update.de_json(entry["update"], app.bot))

    asyncio.run(run())
    say(f"replayed {len(entries)}")


def broadcast() -> None:
    official = make_user("sender", Role.COMMUNE_OFFICIAL, (unit(HOME_COMMUNE),))
    notice = broadcast_create(
        commune=unit(HOME_COMMUNE),
        text="Họp tổ lúc 19h tối nay tại nhà văn hoá.",
        teams=list(Team.objects.all()),
        by=official,
    )
    say(f"broadcast {notice.pk}")


class RecordingTelegram(FakeTelegram):
    """Telegram as seen from the other side: each message accepted is appended to a file that
    survives the bot process. The ``hang_at``-th send never gets an answer."""

    def __init__(self, log: Path, hang_at: int | None) -> None:
        super().__init__()
        self.log, self.hang_at, self.sends = log, hang_at, 0

    async def do_request(self, url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        if url.endswith("/sendMessage"):
            self.sends += 1
            if self.sends == self.hang_at:
                say("in flight")
                await asyncio.sleep(3600)
            status, body = await super().do_request(url, method, request_data, **kw)
            with self.log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(request_data.parameters if request_data else {}) + "\n")
                out.flush()
                os.fsync(out.fileno())
            return status, body
        return await super().do_request(url, method, request_data, **kw)


def worker(log: Path, hang_at: int | None) -> None:
    telegram = RecordingTelegram(log, hang_at)
    # The task builds its Bot through make_bot at run time: the real Bot API is swapped for the
    # recording one, everything else (db_worker, the task, the sending loop) is the real thing.
    bot_application.make_bot = lambda request=None: Bot(TOKEN, request=telegram)  # type: ignore[assignment]
    started = time.monotonic()
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0.1", "--no-reload")
    say(f"worker done in {time.monotonic() - started:.1f} s, {telegram.sends} sends")


if __name__ == "__main__":
    action, args = sys.argv[1], sys.argv[2:]
    if action == "setup":
        setup(int(args[0]), int(args[1]))
    elif action == "drive":
        drive(Path(args[0]), int(args[1]), int(args[2]), int(args[3]))
    elif action == "replay":
        replay(Path(args[0]))
    elif action == "broadcast":
        broadcast()
    elif action == "worker":
        worker(Path(args[0]), int(args[1]) if len(args) > 1 else None)
    elif action == "enqueue":
        say(f"enqueued {send_broadcasts.enqueue().id}")
    else:
        sys.exit(f"unknown action {action}")
