"""Small pieces the flows share."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from ..dialog import Button, Turn
from ..models import BotConversation

# Buttons of a running flow: "c:<conversation token>:<action>".
FLOW_BUTTON = "c"


def flow_button(conversation: BotConversation, label: str, action: str) -> Button:
    return Button(label=label, data=f"{FLOW_BUTTON}:{conversation.token}:{action}")


def expired(turn: Turn) -> None:
    turn.notice(_("This has expired. Send /help to start again."), alert=True)


def local(moment: dt.datetime) -> str:
    """ "14:05 21/03" in the project's time zone."""
    return timezone.localtime(moment).strftime("%H:%M %d/%m")


def parse_moment(text: str, *, now: dt.datetime) -> dt.datetime | None:
    """A time the member typed: "14:05" (today, or yesterday if that is still to come) or
    "21/03 14:05" / "21/3 14h05" (this year). None if it cannot be read."""
    cleaned = text.strip().lower().replace("h", ":").replace(".", ":")
    parts = cleaned.split()
    day_part = parts[0] if len(parts) == 2 else ""
    time_part = parts[-1] if parts else ""
    try:
        hour_text, minute_text = ([*time_part.split(":"), "0"])[:2]
        hour, minute = int(hour_text), int(minute_text or 0)
        today = timezone.localtime(now)
        if day_part:
            day_text, month_text = day_part.split("/")[:2]
            moment = today.replace(
                month=int(month_text),
                day=int(day_text),
                hour=hour,
                minute=minute,
                second=0,
                microsecond=0,
            )
        else:
            moment = today.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment > today + dt.timedelta(minutes=5):
                moment -= dt.timedelta(days=1)
    except (ValueError, IndexError):
        return None
    return moment
