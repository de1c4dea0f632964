"""Running the bot: the webhook server (forged calls refused with 403 and nothing processed),
runbot without a token, and the token kept out of every log line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError

from cnsc.bot.application import build_application, make_bot
from cnsc.bot.logs import REDACTED, RedactSecrets
from cnsc.bot.models import ProcessedUpdate
from cnsc.bot.testing import TOKEN, Harness
from cnsc.bot.webhook import start_server

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-0123456789"
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    for port in range(8150, 8199):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8150-8198")


def test_webhook_refuses_forged_calls_and_queues_real_ones(linked, you):
    harness = Harness()
    application = harness.application
    port = free_port()
    update = you.command("help")
    body = json.dumps(update).encode()
    statuses: dict[str, int] = {}

    async def scenario() -> None:
        async with application:
            server = await start_server(
                application, host="127.0.0.1", port=port, path="/telegram", secret=SECRET
            )
            url = f"http://127.0.0.1:{port}/telegram"
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    statuses["missing"] = (await client.post(url, content=body)).status_code
                    statuses["wrong"] = (
                        await client.post(
                            url,
                            content=body,
                            headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
                        )
                    ).status_code
                    assert application.update_queue.empty()
                    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    statuses["get"] = (await client.get(url, headers=good)).status_code
                    statuses["path"] = (
                        await client.post(url + "x", content=body, headers=good)
                    ).status_code
                    statuses["garbage"] = (
                        await client.post(url, content=b"{not json", headers=good)
                    ).status_code
                    statuses["not_update"] = (
                        await client.post(url, content=b'{"hello": 1}', headers=good)
                    ).status_code
                    statuses["too_big"] = (
                        await client.post(url, content=b"x" * 2_000_000, headers=good)
                    ).status_code
                    assert application.update_queue.empty()
                    statuses["good"] = (
                        await client.post(url, content=body, headers=good)
                    ).status_code
            finally:
                server.close()
                await server.wait_closed()
            assert application.update_queue.qsize() == 1
            await application.process_update(application.update_queue.get_nowait())

    async_to_sync(scenario)()
    assert statuses == {
        "missing": 403,
        "wrong": 403,
        "get": 405,
        "path": 404,
        "garbage": 400,
        "not_update": 400,
        "too_big": 413,
        "good": 200,
    }
    assert ProcessedUpdate.objects.count() == 1
    assert "/visit" in harness.telegram.last_text()


def test_runbot_without_a_token_refuses_with_a_clear_message(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN is not set"):
        call_command("runbot")
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN is not set"):
        call_command("bot_webhook", "set")


def test_webhook_mode_needs_its_secret(settings):
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
        call_command("runbot", "--webhook")


def test_the_token_never_reaches_a_log_line(settings, caplog):
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    caplog.handler.addFilter(RedactSecrets())
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    logging.getLogger("httpx").warning('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("cnsc.bot").info("calling %s", url, extra={"target": url})
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        logging.getLogger("telegram.ext").exception("network trouble")
    text = caplog.text + "".join(
        str(getattr(r, "target", "")) + (r.exc_text or "") for r in caplog.records
    )
    assert TOKEN not in text
    assert REDACTED in caplog.text
    assert caplog.text.count(REDACTED) >= 3


def test_the_http_client_does_not_log_requests_at_info(settings):
    assert "redact_secrets" in settings.LOGGING["handlers"]["console"]["filters"]
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING


def test_a_bot_crash_answers_politely_and_keeps_running(bot, linked, you, monkeypatch):
    from cnsc.bot import engine

    def broken(turn):
        raise RuntimeError("boom")

    monkeypatch.setitem(engine.COMMANDS, "stats", broken)
    bot.feed(you.command("stats"))
    assert "something went wrong" in bot.telegram.last_text()
    bot.feed(you.command("help"))
    assert "/visit" in bot.telegram.last_text()
    # The failed update was not recorded as handled: a redelivery is tried again.
    assert ProcessedUpdate.objects.count() == 1


class _BotApiServer(BaseHTTPRequestHandler):
    """A self-hosted Bot API server that knows one method, getMe, and records each path."""

    paths: list[str] = []

    def do_POST(self) -> None:
        self.paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        me = {"id": 7000000001, "is_bot": True, "first_name": "CNSC", "username": "cnsc_bot"}
        body = json.dumps({"ok": True, "result": me}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_the_bot_calls_the_configured_bot_api_server(settings):
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApiServer)
    _BotApiServer.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TELEGRAM_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/tg"

    async def ask_who_we_are() -> list[str]:
        application = build_application(polling=False)
        async with application:
            pass
        bot = make_bot()
        async with bot:
            pass
        return [application.bot.username, bot.username]

    try:
        names = async_to_sync(ask_who_we_are)()
    finally:
        server.shutdown()
        server.server_close()
    assert names == ["cnsc_bot", "cnsc_bot"]
    assert _BotApiServer.paths == [f"/tg/bot{TOKEN}/getMe"] * 2


@pytest.mark.parametrize(
    "value",
    ["api.telegram.org", "ftp://api.telegram.org", "https://api.telegram.org/bot123:abc?x=1"],
)
def test_a_bad_bot_api_address_stops_the_start(tmp_path, value):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CNSC_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CNSC_VAR_DIR": str(tmp_path),
            "TELEGRAM_API_BASE_URL": value,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "TELEGRAM_API_BASE_URL must be a scheme and host" in result.stderr.splitlines()[-1]


def test_a_connection_closed_before_any_request_is_no_error(linked, you, caplog):
    """The proxy's or a monitor's port check opens and closes a connection: nothing to answer,
    nothing logged as an error, and the next update is served."""
    harness = Harness()
    application = harness.application
    port = free_port()
    statuses: list[int] = []

    async def scenario() -> None:
        async with application:
            server = await start_server(
                application, host="127.0.0.1", port=port, path="/telegram", secret=SECRET
            )
            try:
                for _ in range(3):
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    await writer.wait_closed()
                await asyncio.sleep(0.2)
                async with httpx.AsyncClient(timeout=5) as client:
                    answer = await client.post(
                        f"http://127.0.0.1:{port}/telegram",
                        content=json.dumps(you.command("help")).encode(),
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    )
                    statuses.append(answer.status_code)
            finally:
                server.close()
                await server.wait_closed()
            await application.process_update(application.update_queue.get_nowait())

    with caplog.at_level(logging.WARNING):
        async_to_sync(scenario)()
    assert statuses == [200]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "/visit" in harness.telegram.last_text()
