"""Handles one event: the single synchronous, atomic entry point the adapters call (through
``sync_to_async``). Who is writing is looked up afresh each time, the update is claimed so a
redelivery does nothing, and the conversation state changes in the same transaction as the
work it records.

Conversation state is our own small state machine in ``BotConversation`` rather than PTB's
ConversationHandler with a persistence class: PTB keeps the state in memory and flushes it
later, so a crash between a visit being stored and the state being flushed would replay or
lose a step. Here both commit together or not at all, and any process (or a later channel)
continues the same conversation.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .dialog import Action, Event, Turn
from .handlers import checkin, info, link, report, visit
from .handlers.common import FLOW_BUTTON, expired
from .models import BotConversation
from .selectors import actor_for, conversation_for_update
from .services import conversation_end, update_claim

logger = logging.getLogger(__name__)

# A flow left alone this long is forgotten: its buttons then answer "expired".
CONVERSATION_TTL = dt.timedelta(hours=12)

COMMANDS = {
    "help": info.show_help,
    "lang": info.choose_language,
    "tasks": info.tasks,
    "stats": info.stats,
    "handbook": info.handbooks,
    "checkin": checkin.ask,
    "visit": visit.begin,
    "edit": visit.edit_last,
    "report": report.begin,
}
# Buttons that carry all they need: they work whenever pressed.
BUTTONS = {
    "lang": info.set_language,
    "tasks": info.tasks_page,
    "hb": info.send_handbook,
    "hh": visit.begin_with_household,
}
FLOWS = {"visit": visit, "report": report}


def handle(event: Event) -> list[Action]:
    """The replies to ``event``; nothing for an event handled before."""
    if not connection.in_atomic_block:
        # The bot runs for weeks: drop a connection the database closed or that outlived
        # CONN_MAX_AGE, as Django does at the start of each web request.
        close_old_connections()
    with transaction.atomic():
        if not update_claim(key=event.key):
            return []
        actor = actor_for(telegram_user_id=event.user_id)
        language = actor.account.language if actor else settings.LANGUAGE_CODE
        with translation.override(language):
            turn = Turn(event=event, actor=actor)
            _dispatch(turn)
            return turn.actions


def _dispatch(turn: Turn) -> None:
    event = turn.event
    if event.command == "start" and event.args:
        link.by_invitation(turn)
        return
    if event.contact is not None:
        link.by_contact(turn)
        return
    if turn.actor is None:
        link.refuse(turn)
        return
    if turn.actor.membership is None:
        conversation_end(chat_id=event.chat_id)
        link.no_team(turn)
        return
    turn.conversation = _conversation(turn)
    if event.command:
        _command(turn)
    elif event.button:
        _button(turn)
    elif turn.conversation is not None:
        flow = FLOWS[turn.conversation.flow]
        if event.location is not None:
            flow.on_location(turn)
        elif event.photo is not None:
            flow.on_photo(turn)
        elif event.text:
            flow.on_text(turn)
    elif event.location is not None:
        checkin.record(turn)
    elif event.photo is not None:
        turn.say(_("To send a photo, start with /visit or /report."))
    elif event.text:
        info.fallback(turn)


def _conversation(turn: Turn) -> BotConversation | None:
    assert turn.actor is not None
    conversation = conversation_for_update(chat_id=turn.event.chat_id)
    if conversation is None:
        return None
    stale = conversation.updated_at < timezone.now() - CONVERSATION_TTL
    if stale or conversation.member_id != turn.actor.member.pk or conversation.flow not in FLOWS:
        conversation.delete()
        return None
    return conversation


def _command(turn: Turn) -> None:
    command = turn.event.command
    if command == "start":
        info.welcome(turn)
    elif command == "cancel":
        if conversation_end(chat_id=turn.event.chat_id):
            turn.say(_("Cancelled. Nothing was saved."))
        else:
            turn.say(_("There is nothing to cancel."))
    elif command in COMMANDS:
        COMMANDS[command](turn)
    else:
        turn.say(_("I do not know this command. Send /help to see what I can do."))


def _button(turn: Turn) -> None:
    prefix, _sep, rest = turn.event.button.partition(":")
    if prefix == FLOW_BUTTON:
        token, _sep, action = rest.partition(":")
        conversation = turn.conversation
        if conversation is None or conversation.token != token:
            expired(turn)
            return
        FLOWS[conversation.flow].on_button(turn, action)
    elif prefix in BUTTONS:
        BUTTONS[prefix](turn, rest)
    else:
        expired(turn)
