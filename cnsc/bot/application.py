"""The Telegram adapter: builds the python-telegram-bot Application, turns each update into a
channel-neutral ``Event``, hands it to ``engine.handle`` in one ``sync_to_async`` call (the only
place the database is reached), and performs the actions that come back.

One handler takes every update (a TypeHandler): the flows live in ``cnsc.bot.handlers`` and
know nothing of Telegram. One chat's updates are processed one at a time, in the order they
came, so two messages of one chat never race each other's conversation state; with
``BOT_WORKERS`` above 1, updates of different chats are processed at once, each ``handle`` call
on a thread (and database connection) of the bot's own pool, so one member's slow call does not
hold up the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import threading
import warnings
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import BaseRequest, HTTPXRequest

from .dialog import Action, Contact, Edit, Event, Keyboard, Location, Notice, Photo, Send, SendFile
from .engine import handle

logger = logging.getLogger(__name__)

# What we ask Telegram to send us; anything else it will not bother delivering.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def make_request() -> BaseRequest:
    # Weak signal on the members' side, not ours: generous read time-outs are for long polling.
    return HTTPXRequest(connection_pool_size=8, read_timeout=30, connect_timeout=10)


def api_urls() -> tuple[str, str]:
    """The Bot API's method and file addresses (PTB appends the token to each)."""
    base = settings.TELEGRAM_API_BASE_URL
    return f"{base}/bot", f"{base}/file/bot"


def make_bot(request: BaseRequest | None = None) -> Bot:
    if not settings.TELEGRAM_BOT_TOKEN:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
    base_url, base_file_url = api_urls()
    return Bot(
        token=settings.TELEGRAM_BOT_TOKEN,
        request=request or make_request(),
        base_url=base_url,
        base_file_url=base_file_url,
    )


# Updates waiting for their chat's turn or for a worker: a bound on memory, not on speed (the
# workers bound that); a burst from one chat must not take every slot from the others.
MAX_UPDATES_IN_FLIGHT = 1000


def _chat_of(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class Workers(ThreadPoolExecutor):
    """The bot's worker threads; each keeps a database connection of its own between updates
    (as a web worker does, up to ``CONN_MAX_AGE``)."""

    def __init__(self, count: int) -> None:
        super().__init__(max_workers=count, thread_name_prefix="cnsc-bot")
        self.count = count

    def close(self) -> None:
        """Close every worker's connection, then stop the workers. Each closing call waits at a
        barrier until all have arrived, so each runs on a thread of its own."""
        barrier = threading.Barrier(self.count)

        def close_connections() -> None:
            connections.close_all()
            barrier.wait(timeout=30)

        for future in [self.submit(close_connections) for _n in range(self.count)]:
            future.result()
        self.shutdown(wait=True)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Processes updates of different chats at once on ``workers`` threads, and each chat's
    updates one at a time, in the order they arrived (PTB starts them in that order, and a
    chat's lock queues its waiters first come, first served). The Application starts and
    stops it, and with it the worker threads and their connections."""

    def __init__(self, workers: int, max_concurrent_updates: int = MAX_UPDATES_IN_FLIGHT) -> None:
        super().__init__(max_concurrent_updates)
        self.worker_count = workers
        self.workers: Workers | None = None
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = _chat_of(update)
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._holders[chat] = self._holders.get(chat, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._holders[chat] -= 1
            if not self._holders[chat]:
                del self._holders[chat], self._locks[chat]

    async def initialize(self) -> None:
        if self.workers is None:
            self.workers = Workers(self.worker_count)

    async def shutdown(self) -> None:
        if self.workers is not None:
            workers, self.workers = self.workers, None
            await asyncio.to_thread(workers.close)


def bot_workers(requested: int | None = None) -> int:
    """How many updates the bot handles at once: ``BOT_WORKERS`` (or ``requested``), and 1 on
    SQLite, which takes one writer at a time."""
    workers = settings.BOT_WORKERS if requested is None else requested
    if connection.vendor == "sqlite":
        return 1
    return max(1, workers)


def build_application(
    *,
    token: str | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    polling: bool = True,
    workers: int | None = 1,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application. ``request``: the Bot API transport (a fake one in tests); ``polling``
    false builds it without an Updater, for the webhook server and for feeding updates;
    ``workers``: updates of different chats handled at once (None: ``BOT_WORKERS``; 1, the
    default, handles every update on the calling thread's connection, as tests need)."""
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder().token(
        token or settings.TELEGRAM_BOT_TOKEN
    )
    base_url, base_file_url = api_urls()
    builder = builder.base_url(base_url).base_file_url(base_file_url)
    builder = builder.request(request or make_request())
    if polling:
        builder = builder.get_updates_request(updates_request or make_request())
    else:
        builder = builder.updater(None)
    count = bot_workers(workers)
    if count > 1:
        builder = builder.concurrent_updates(ChatOrderedUpdateProcessor(count))
    application = builder.build()
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


# --- Update -> Event --------------------------------------------------------------------------


def _command(message: Message) -> tuple[str, str]:
    text = message.text or ""
    entity = next(
        (
            e
            for e in message.entities or ()
            if e.type == MessageEntity.BOT_COMMAND and e.offset == 0
        ),
        None,
    )
    if entity is None:
        return "", ""
    name = text[1 : entity.length].split("@", 1)[0].lower()
    return name, text[entity.length :].strip()


async def _photo(message: Message, bot: Bot) -> Photo | None:
    limit = settings.VISIT_PHOTO_MAX_BYTES
    if message.photo:
        file_id, size = message.photo[-1].file_id, message.photo[-1].file_size or 0
    elif message.document and (message.document.mime_type or "").startswith("image/"):
        file_id, size = message.document.file_id, message.document.file_size or 0
    else:
        return None
    if size > limit:
        return Photo(content=None, size=size)
    telegram_file = await bot.get_file(file_id)
    if (telegram_file.file_size or 0) > limit:
        return Photo(content=None, size=telegram_file.file_size or 0)
    content = bytes(await telegram_file.download_as_bytearray())
    if len(content) > limit:
        return Photo(content=None, size=len(content))
    return Photo(content=content, size=len(content))


def _coordinate(value: Any) -> float:
    """A coordinate as a float; NaN (outside every bound) for what Telegram would never send."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


async def to_event(update: Update, bot: Bot) -> Event | None:
    """The event in ``update``, or None for what the bot does not handle (edits, channel posts,
    group chats, service messages...)."""
    key = f"tg:{update.update_id}"
    query = update.callback_query
    if query is not None:
        if query.from_user is None:
            return None
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return None
        return Event(
            key=key,
            user_id=query.from_user.id,
            chat_id=chat.id if chat else query.from_user.id,
            sent_at=timezone.now(),
            message_id=message.message_id if message else None,
            button=(query.data or "")[:64].replace("\x00", ""),
            language=query.from_user.language_code or "",
        )
    message = update.message
    if (
        message is None
        or message.from_user is None
        or message.chat is None
        or message.chat.type != ChatType.PRIVATE
    ):
        return None
    command, args = _command(message)
    location = None
    if message.location:
        with warnings.catch_warnings():
            # PTB warns that live_period will become a timedelta; either is truthy alike.
            warnings.simplefilter("ignore")
            live = bool(message.location.live_period)
        location = Location(
            latitude=_coordinate(message.location.latitude),
            longitude=_coordinate(message.location.longitude),
            accuracy_m=message.location.horizontal_accuracy,
            live=live,
        )
    contact = (
        Contact(phone=message.contact.phone_number, user_id=message.contact.user_id)
        if message.contact
        else None
    )
    photo = await _photo(message, bot)
    text = "" if command else (message.text or message.caption or "")
    if not (command or text or location or contact or photo):
        return None
    return Event(
        key=key,
        user_id=message.from_user.id,
        chat_id=message.chat.id,
        sent_at=message.date if message.date.tzinfo else message.date.replace(tzinfo=dt.UTC),
        message_id=message.message_id,
        command=command,
        args=args.replace("\x00", ""),
        # PostgreSQL stores no NUL in text, and no one types one on purpose.
        text=text.replace("\x00", "").strip()[:4000],
        location=location,
        contact=contact,
        photo=photo,
        language=message.from_user.language_code or "",
    )


# --- Actions -> Bot API -----------------------------------------------------------------------


def _inline(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons]
    )


def _markup(action: Send) -> Any:
    if action.buttons:
        return _inline(action.buttons)
    if action.request == "location":
        return ReplyKeyboardMarkup(
            [[KeyboardButton(_("📍 Share my location"), request_location=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    if action.request == "contact":
        return ReplyKeyboardMarkup(
            [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    if action.request == "remove":
        return ReplyKeyboardRemove()
    return None


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle_:
        data: bytes = handle_.read()
    return data


async def perform(
    bot: Bot, chat_id: int, actions: list[Action], query: CallbackQuery | None = None
) -> None:
    answered = False
    for action in actions:
        try:
            if isinstance(action, Send):
                await bot.send_message(
                    chat_id=chat_id, text=action.text, reply_markup=_markup(action)
                )
            elif isinstance(action, Edit):
                await bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=action.message_id,
                    text=action.text,
                    reply_markup=_inline(action.buttons),
                )
            elif isinstance(action, Notice):
                if query is not None and not answered:
                    await query.answer(action.text[:200], show_alert=action.alert)
                    answered = True
            elif isinstance(action, SendFile):
                content = await sync_to_async(_read, thread_sensitive=False)(action.path)
                await bot.send_document(
                    chat_id=chat_id,
                    document=InputFile(content, filename=action.filename),
                    caption=action.caption[:1000],
                )
        except BadRequest as exc:
            # An edit that changes nothing, or of a message too old to edit: not worth more.
            logger.info("bot action refused by Telegram: %s", exc)
        except Forbidden:
            logger.info("chat %s blocked the bot", chat_id)
            return
    if query is not None and not answered:
        await query.answer()


# --- Handlers ---------------------------------------------------------------------------------


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    # With several workers, ``handle`` runs on one of the bot's worker threads; otherwise on
    # the one thread Django's async adapters keep for such calls.
    executor = getattr(context.application.update_processor, "workers", None)
    try:
        event = await to_event(update, context.bot)
    except TelegramError as exc:
        logger.warning("could not read update %s: %s", update.update_id, exc)
        event = None
    if event is None:
        return
    try:
        if executor is None:
            actions = await sync_to_async(handle)(event)
        else:
            actions = await sync_to_async(handle, thread_sensitive=False, executor=executor)(event)
    except Exception:
        logger.exception("update %s failed", update.update_id)
        with translation.override(settings.LANGUAGE_CODE):
            actions = [
                Send(text=_("Sorry, something went wrong and nothing was saved. Please try again."))
            ]
    await perform(context.bot, event.chat_id, actions, update.callback_query)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("bot error", exc_info=context.error)
