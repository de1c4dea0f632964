"""Benchmark: N synthetic visit conversations fed through the bot's real python-telegram-bot
Application, with the fake Bot API transport, against PostgreSQL, on one process.

Usage (PostgreSQL only; the URL names the server and an existing database to start from):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cnsc .venv/bin/python \\
        bench/bot_visits.py --visits 2000

Options: --visits N (default 2000), --chats K (members in conversation with the bot at once;
default 50), --workers W (updates of different chats handled at once; default BOT_WORKERS),
--keep (leave the bench database).

What it does:
1. creates a scratch database <name>_botbench_<pid> on the same server, migrates it, loads the
   administrative units, and makes K members (one team of each ten, each member linked to the
   bot) and, per member, enough households with two residents;
2. drives K chats side by side, each sending its next update when the bot has answered the
   last, through the update processor the running bot uses: each visit is /visit, the house
   number typed, a resident
   ticked, Done, a service, an outcome, a step, Finish, skip the photo, a note typed, Save (11
   updates), every update built as Telegram would send it (button presses carry the data and
   message id of the keyboard the fake transport recorded for that chat);
3. prints updates per second and visits stored per second (and per update type's average),
   and checks that exactly N visits were stored;
4. drops the scratch database (unless --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 11


def bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must point at PostgreSQL.")
    name = f"{parts.path.lstrip('/') or 'cnsc'}_botbench_{os.getpid()}"
    return name, urlunsplit(parts._replace(path=f"/{name}"))


def admin_command(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.encode())


def setup(chats: int, visits: int) -> list[dict[str, Any]]:
    from django.core.management import call_command

    from cnsc.bot.models import LinkMethod, TelegramAccount
    from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level
    from cnsc.geo.services import units_load
    from cnsc.geo.sources import read_source
    from cnsc.outreach.models import Relation
    from cnsc.outreach.services import household_create, resident_create
    from cnsc.team.services import member_create, membership_start, team_create

    call_command("migrate", verbosity=0)
    units_load(source=read_source())
    ward = AdminUnit.objects.get(hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code="25747")
    per_member = -(-visits // chats)
    people = []
    for index in range(chats):
        if index % 10 == 0:
            hamlet = Hamlet.objects.create(
                commune=ward,
                name=f"Khu phố B{index // 10}",
                kind=HamletKind.QUARTER,
                latitude=10.98,
                longitude=106.65,
            )
            team = team_create(hamlet=hamlet, name=f"Tổ {index // 10}", code=f"B{index // 10}")
        member = member_create(
            commune=ward,
            full_name=f"Tổ viên {index}",
            sex="female",
            birth_year=1990,
            phone=f"0913{index:06d}",
        )
        membership_start(member=member, team=team)
        user_id = 900_000 + index
        TelegramAccount.objects.create(
            member=member,
            telegram_user_id=user_id,
            chat_id=user_id,
            linked_by=LinkMethod.INVITATION,
            language="en",  # the driver reads English labels
        )
        houses = []
        for number in range(per_member):
            house = f"{index}-{number:04d}"  # none the start of another: each finds one
            household = household_create(hamlet=hamlet, team=team, house_number=house, street="Hẻm")
            resident_create(
                household=household,
                full_name=f"Chủ hộ {house}",
                relation_to_head=Relation.HEAD,
                birth_year=1970,
            )
            resident_create(household=household, full_name=f"Con {house}", birth_year=2000)
            houses.append(house)
        people.append({"user_id": user_id, "houses": houses})
    return people


async def drive(people: list[dict[str, Any]], visits: int, workers: int) -> dict[str, Any]:
    from telegram import Update

    from cnsc.bot.application import build_application
    from cnsc.bot.testing import TOKEN, FakeTelegram, Updates

    telegram = FakeTelegram()
    application = build_application(token=TOKEN, request=telegram, polling=False, workers=workers)
    chats: list[dict[str, Any]] = [
        {"u": Updates(p["user_id"]), "houses": list(p["houses"]), "step": 0} for p in people
    ]
    per_kind: dict[str, list[float]] = defaultdict(list)
    counts = {"visits": 0, "updates": 0}

    def press(chat: dict[str, Any], label_part: str) -> dict[str, Any]:
        message_id, buttons = telegram.keyboard(chat["u"].user_id)
        data = next((d for label, d in buttons if label_part in label), None)
        if data is None:
            raise SystemExit(
                f"step {chat['step']}: no button with {label_part!r} among "
                f"{[label for label, _d in buttons]}; the bot said: {telegram.sent()[-1].params}"
            )
        return chat["u"].press(data, message_id)

    def next_update(chat: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        step, you = chat["step"], chat["u"]
        if step == 0:
            return "command", you.command("visit")
        if step == 1:
            return "text", you.text(chat["houses"][0])
        labels = {
            2: "Chủ hộ",
            3: "Done",
            4: "VNeID",
            5: "Done",
            6: "Level 2",
            7: "Finish",
            8: "Skip",
        }
        if step in labels:
            return "button", press(chat, labels[step])
        if step == 9:
            return "text", you.text("Đã hướng dẫn")
        return "button", press(chat, "Save")

    async def member(chat: dict[str, Any]) -> None:
        # A member sends the next update once the bot has answered the last one, as people do;
        # the chats run side by side, through the update processor the running bot uses.
        processor = application.update_processor
        while chat["houses"] and counts["visits"] < visits:
            kind, data = next_update(chat)
            update = Update.de_json(data, application.bot)
            t0 = time.perf_counter()
            await processor.process_update(update, application.process_update(update))
            per_kind[kind].append(time.perf_counter() - t0)
            counts["updates"] += 1
            chat["step"] += 1
            if chat["step"] == STEPS:
                chat["step"] = 0
                chat["houses"].pop(0)
                counts["visits"] += 1
            if len(telegram.calls) > 10_000:
                telegram.calls = telegram.calls[-2000:]

    started = time.perf_counter()
    cpu_started = time.process_time()
    async with application:
        await asyncio.gather(*(member(chat) for chat in chats))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "updates": counts["updates"],
        "visits": counts["visits"],
        "per_kind": per_kind,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="updates of different chats handled at once (default: BOT_WORKERS)",
    )
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/cnsc"
    name, url = bench_database_url(base_url)
    admin_command(base_url, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        print(f"setting up {args.chats} linked members and {args.visits} households in {name}…")
        t0 = time.perf_counter()
        people = setup(args.chats, args.visits)
        print(f"set-up: {time.perf_counter() - t0:.1f} s")
        from cnsc.bot.application import bot_workers

        workers = bot_workers(args.workers)
        result = asyncio.run(drive(people, args.visits, workers))

        from django.db import connections

        from cnsc.outreach.models import Visit

        connections.close_all()
        stored = Visit.objects.filter(source="bot").count()
        elapsed = result["elapsed"]
        print(
            f"\n{result['visits']} visit conversations, {result['updates']} updates, "
            f"{args.chats} chats side by side, one process, {workers} worker(s)"
        )
        print(f"elapsed:          {elapsed:8.2f} s")
        print(f"updates/s:        {result['updates'] / elapsed:8.1f}")
        print(f"visits stored/s:  {stored / elapsed:8.1f}  ({stored} stored)")
        cpu_ms = 1000 * result["cpu"] / result["updates"]
        print(f"bot process CPU:  {cpu_ms:8.2f} ms per update (the database's own time aside)")
        print(f"load average:     {os.getloadavg()[0]:8.2f} (other work on this machine)")
        for kind, times in sorted(result["per_kind"].items()):
            mean_ms = 1000 * sum(times) / len(times)
            print(f"  {kind:8s} {len(times):6d} updates, mean {mean_ms:6.2f} ms")
        if stored != result["visits"]:
            sys.exit(f"expected {result['visits']} visits stored, found {stored}")
        connections.close_all()
    finally:
        if not args.keep:
            admin_command(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
