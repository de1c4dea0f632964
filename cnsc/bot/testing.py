"""Offline Telegram for tests and the benchmark: a fake Bot API transport that records every
call and answers with canned JSON, builders of real update JSON, and a harness that feeds
updates through a real python-telegram-bot Application.

The fake plugs in where PTB expects a transport (``telegram.request.BaseRequest``), so the
Application, the Bot and its (de)serialisation run exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from telegram import Update
from telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:AAH-fake-token-for-tests-only-0123456789"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None


class FakeTelegram(BaseRequest):
    """Answers Bot API calls from memory. ``fail_chat[chat_id]`` makes sendMessage to that chat
    answer with the given (status, description, parameters) instead, ``fail_times`` times (or
    always when None)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self.fail_chat: dict[int, tuple[int, str, dict[str, Any] | None, int | None]] = {}
        self._message_ids = itertools.count(10_000)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # -- What the tests read ----------------------------------------------------------------

    def sent(self, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts(self) -> list[str]:
        return [
            str(c.params.get("text", ""))
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText")
        ]

    def last_text(self) -> str:
        texts = self.texts()
        return texts[-1] if texts else ""

    def keyboard(self, chat_id: int | None = None) -> tuple[int, list[tuple[str, str]]]:
        """The latest message (or edit) with inline buttons, in ``chat_id`` if given: its id,
        and each button's label and callback data."""
        for call in reversed(self.calls):
            if chat_id is not None and int(call.params.get("chat_id", 0)) != chat_id:
                continue
            if call.method in ("sendMessage", "editMessageText") and call.message_id:
                markup = call.params.get("reply_markup") or {}
                if isinstance(markup, str):
                    markup = json.loads(markup)
                buttons = [
                    (b["text"], b.get("callback_data", ""))
                    for row in markup.get("inline_keyboard", [])
                    for b in row
                ]
                if buttons:
                    return call.message_id, buttons
        return 0, []

    def last_buttons(self) -> list[tuple[str, str]]:
        return self.keyboard()[1]

    def answers(self) -> list[str]:
        return [str(c.params.get("text", "")) for c in self.sent("answerCallbackQuery")]

    def clear(self) -> None:
        self.calls.clear()

    # -- The transport ------------------------------------------------------------------------

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = content

    def _message(self, params: dict[str, Any], text: str = "") -> dict[str, Any]:
        return {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(dt.datetime.now(tz=dt.UTC).timestamp()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "CNSC"},
            "text": text or str(params.get("text", "")),
        }

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        if method == "getMe":
            return 200, {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "CNSC",
                "username": "cnsc_test_bot",
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "sendDocument", "editMessageText"):
            chat = int(params.get("chat_id", 0))
            if method == "sendMessage" and chat in self.fail_chat:
                status, description, parameters, times = self.fail_chat[chat]
                if times is not None:
                    if times <= 1:
                        del self.fail_chat[chat]
                    else:
                        self.fail_chat[chat] = (status, description, parameters, times - 1)
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": status,
                    "description": description,
                }
                if parameters:
                    body["parameters"] = parameters
                return status, body
            return 200, self._message(params)
        if method == "getFile":
            file_id = str(params["file_id"])
            return 200, {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"photos/{file_id}.jpg",
            }
        if method in (
            "answerCallbackQuery",
            "setWebhook",
            "deleteWebhook",
            "setMyCommands",
        ):
            return 200, True
        if method == "getWebhookInfo":
            return 200, {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            file_id = url.rsplit("/", 1)[-1].removesuffix(".jpg")
            self.calls.append(Call(method="download", params={"file_id": file_id}))
            return 200, self.files.get(file_id, b"")
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = (
            dict(request_data.multipart_data)
            if request_data and request_data.contains_files
            else {}
        )
        call = Call(method=api_method, params=params, files=files)
        self.calls.append(call)
        status, result = self._answer(api_method, params)
        if status == 200 and isinstance(result, dict) and "message_id" in result:
            call.message_id = result["message_id"]
        if status != 200:
            return status, json.dumps(result).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


# --- Real update JSON ---------------------------------------------------------------------------


class Updates:
    """Builds the JSON Telegram sends, for one user in their private chat."""

    _ids: Iterator[int] = itertools.count(500_000_000)
    _messages: Iterator[int] = itertools.count(1)

    def __init__(self, user_id: int, first_name: str = "An", language: str = "vi") -> None:
        self.user_id = user_id
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language,
        }
        self.chat = {"id": user_id, "type": "private", "first_name": first_name}

    def _message(self, extra: dict[str, Any], date: dt.datetime | None = None) -> dict[str, Any]:
        moment = date or dt.datetime.now(tz=dt.UTC)
        return {
            "update_id": next(self._ids),
            "message": {
                "message_id": next(self._messages),
                "from": self.user,
                "chat": self.chat,
                "date": int(moment.timestamp()),
                **extra,
            },
        }

    def command(
        self, command: str, args: str = "", date: dt.datetime | None = None
    ) -> dict[str, Any]:
        text = f"/{command}" + (f" {args}" if args else "")
        return self._message(
            {
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(command) + 1}],
            },
            date,
        )

    def text(self, text: str, date: dt.datetime | None = None) -> dict[str, Any]:
        return self._message({"text": text}, date)

    def location(
        self, latitude: float, longitude: float, *, accuracy: float | None = None, live: int = 0
    ) -> dict[str, Any]:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if accuracy is not None:
            location["horizontal_accuracy"] = accuracy
        if live:
            location["live_period"] = live
        return self._message({"location": location})

    def contact(self, phone: str, user_id: int | None) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone, "first_name": "An"}
        if user_id is not None:
            contact["user_id"] = user_id
        return self._message({"contact": contact})

    def photo(self, file_id: str, size: int) -> dict[str, Any]:
        return self._message(
            {
                "photo": [
                    {
                        "file_id": f"{file_id}-s",
                        "file_unique_id": "s",
                        "width": 90,
                        "height": 90,
                        "file_size": 1000,
                    },
                    {
                        "file_id": file_id,
                        "file_unique_id": "l",
                        "width": 800,
                        "height": 600,
                        "file_size": size,
                    },
                ]
            }
        )

    def press(self, data: str, message_id: int) -> dict[str, Any]:
        return {
            "update_id": next(self._ids),
            "callback_query": {
                "id": str(next(self._ids)),
                "from": self.user,
                "chat_instance": "1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "CNSC"},
                    "chat": self.chat,
                    "date": int(dt.datetime.now(tz=dt.UTC).timestamp()),
                    "text": "…",
                },
            },
        }


# --- Feeding updates ----------------------------------------------------------------------------


class Harness:
    """A real Application over the fake transport. Each ``feed`` runs in its own event loop
    (through ``async_to_sync``, so the handler's ``sync_to_async`` calls come back to the
    calling thread and see the test's database transaction)."""

    def __init__(self, telegram: FakeTelegram | None = None) -> None:
        from .application import build_application

        self.telegram = telegram or FakeTelegram()
        self.application = build_application(token=TOKEN, request=self.telegram, polling=False)

    def feed(self, *updates: dict[str, Any]) -> None:
        async_to_sync(self._feed)(list(updates))

    async def _feed(self, updates: list[dict[str, Any]]) -> None:
        async with self.application:
            for data in updates:
                await self.application.process_update(Update.de_json(data, self.application.bot))

    def press(self, updates: Updates, label_part: str) -> None:
        """Press the button whose label contains ``label_part`` on the latest keyboard."""
        message_id, buttons = self.telegram.keyboard()
        for label, data in buttons:
            if label_part in label:
                self.feed(updates.press(data, message_id))
                return
        raise AssertionError(f"no button {label_part!r} in {buttons}")
