"""The bot's conversation, apart from any messenger: an incoming ``Event`` in, a list of
``Action`` out. Telegram is one adapter (cnsc.bot.application turns its updates into events and
performs the actions); another channel such as Zalo would be another adapter over the same
handlers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import BotConversation
    from .selectors import Actor


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy_m: float | None = None
    live: bool = False


@dataclass(frozen=True)
class Contact:
    phone: str
    user_id: int | None


@dataclass(frozen=True)
class Photo:
    """A picture the member sent. ``content`` is None when it was too large to fetch."""

    content: bytes | None
    size: int


@dataclass(frozen=True)
class Event:
    """One thing a person did in the chat. ``key`` is unique per delivery of it from the
    channel (Telegram's update id), so a redelivery is recognised."""

    key: str
    user_id: int
    chat_id: int
    sent_at: dt.datetime
    message_id: int | None = None
    command: str = ""
    args: str = ""
    text: str = ""
    location: Location | None = None
    contact: Contact | None = None
    photo: Photo | None = None
    # A button pressed: its data, and the message it is on.
    button: str = ""
    language: str = ""

    @property
    def origin(self) -> str:
        """Names this event's message for idempotency keys: the same message sent twice (or a
        button on it pressed twice) gives the same key."""
        return f"tg:{self.chat_id}:{self.message_id}"


@dataclass(frozen=True)
class Button:
    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Send:
    """A new message. ``request``: "location" or "contact" shows a button sharing it."""

    text: str
    buttons: Keyboard = ()
    request: str = ""


@dataclass(frozen=True)
class Edit:
    """Replace the text and buttons of an earlier message of the bot."""

    message_id: int
    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True)
class Notice:
    """The short answer to a button press (a toast, or a dialog when ``alert``)."""

    text: str
    alert: bool = False


@dataclass(frozen=True)
class SendFile:
    path: str
    filename: str
    caption: str = ""


Action = Send | Edit | Notice | SendFile


@dataclass
class Turn:
    """What one handler sees and says while handling one event."""

    event: Event
    actor: Actor | None = None
    conversation: BotConversation | None = None
    actions: list[Action] = field(default_factory=list)

    def say(self, text: str, buttons: Keyboard = (), *, request: str = "") -> None:
        self.actions.append(Send(text=text, buttons=buttons, request=request))

    def show(self, text: str, buttons: Keyboard = ()) -> None:
        """Show a step: in place of the message whose button was pressed, else as a new one."""
        if self.event.button and self.event.message_id is not None:
            self.actions.append(Edit(message_id=self.event.message_id, text=text, buttons=buttons))
        else:
            self.say(text, buttons)

    def notice(self, text: str, *, alert: bool = False) -> None:
        self.actions.append(Notice(text=text, alert=alert))

    def send_file(self, path: str, filename: str, caption: str = "") -> None:
        self.actions.append(SendFile(path=path, filename=filename, caption=caption))

    @property
    def data(self) -> dict[str, Any]:
        assert self.conversation is not None
        return self.conversation.data


def rows(buttons: list[Button], per_row: int = 2) -> Keyboard:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
