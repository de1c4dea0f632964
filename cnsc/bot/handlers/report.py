"""Reporting a problem from the field: kind → what happened → optional photo → optional place →
summary → send. Stored through ``outreach.services.field_report_create``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cnsc.geo.models import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON
from cnsc.outreach.models import ReportCategory
from cnsc.outreach.services import field_report_create

from ..dialog import Button, Turn, rows
from ..selectors import nearest_hamlet
from ..services import conversation_end, conversation_save, conversation_start
from . import pending
from .checkin import outside_text
from .common import flow_button

FLOW = "report"


def _b(turn: Turn, label: str, action: str) -> Button:
    assert turn.conversation is not None
    return flow_button(turn.conversation, label, action)


def _save(turn: Turn, state: str) -> None:
    assert turn.conversation is not None
    conversation_save(conversation=turn.conversation, state=state)


def _cancel(turn: Turn) -> Button:
    return _b(turn, _("✖ Cancel"), "cancel")


def begin(turn: Turn) -> None:
    assert turn.actor is not None
    turn.conversation = conversation_start(
        chat_id=turn.event.chat_id, member=turn.actor.member, flow=FLOW, state="category", data={}
    )
    keyboard = rows(
        [_b(turn, str(label), f"cat={value}") for value, label in ReportCategory.choices]
    )
    turn.say(_("What kind of problem do you want to report?"), (*keyboard, (_cancel(turn),)))
    _save(turn, "category")


def _ask_photo(turn: Turn) -> None:
    turn.say(
        _("Send a photo of it if you can (never of an ID card), or skip."),
        ((_b(turn, _("Skip ▶"), "skip"), _cancel(turn)),),
    )
    _save(turn, "photo")


def _ask_place(turn: Turn) -> None:
    turn.say(
        _("Share the location of the problem (📎 → Location), or skip."),
        ((_b(turn, _("Skip ▶"), "skip"), _cancel(turn)),),
    )
    _save(turn, "place")


def _summary(turn: Turn) -> None:
    data: dict[str, Any] = turn.data
    lines = [
        _("Report: %(kind)s") % {"kind": ReportCategory(data["cat"]).label},
        data["text"],
        _("Photo: yes") if data.get("photo") else _("Photo: no"),
        _("Place: shared") if data.get("point") else _("Place: not shared"),
        "",
        _("Send this report to the commune?"),
    ]
    turn.say("\n".join(lines), ((_b(turn, _("📨 Send"), "ok"), _cancel(turn)),))
    _save(turn, "summary")


def _send(turn: Turn) -> None:
    assert turn.actor is not None
    assert turn.actor.team is not None
    data = turn.data
    point = (data["point"][0], data["point"][1]) if data.get("point") else None
    hamlet = None
    if point is not None:
        hamlet, _distance = nearest_hamlet(
            team=turn.actor.team, latitude=point[0], longitude=point[1]
        )
    photo = pending.read(data.get("photo", ""))
    try:
        report, _created = field_report_create(
            reporter=turn.actor.member,
            category=data["cat"],
            text=data["text"],
            idempotency_key=turn.event.origin,
            hamlet=hamlet,
            point=point,
            photo=photo,
        )
    except ValidationError as exc:
        turn.notice(" ".join(exc.messages)[:200], alert=True)
        return
    pending.drop(data.get("photo", ""))
    conversation_end(chat_id=turn.event.chat_id)
    turn.show(
        _("📨 Report %(code)s sent to the commune. You will get their answer here.")
        % {"code": report.code}
    )
    turn.notice(_("Sent."))


def on_button(turn: Turn, action: str) -> None:
    assert turn.conversation is not None
    state = turn.conversation.state
    name, _sep, value = action.partition("=")
    if name == "cancel":
        pending.drop(turn.data.get("photo", ""))
        conversation_end(chat_id=turn.event.chat_id)
        turn.show(_("Cancelled. Nothing was sent."))
    elif name == "cat" and state == "category" and value in ReportCategory.values:
        turn.data["cat"] = value
        turn.show(
            _("%(kind)s. Now write what happened.") % {"kind": ReportCategory(value).label},
            ((_cancel(turn),),),
        )
        _save(turn, "text")
    elif name == "skip" and state == "photo":
        _ask_place(turn)
    elif name == "skip" and state == "place":
        _summary(turn)
    elif name == "ok" and state == "summary":
        _send(turn)
    else:
        turn.notice(_("This button belongs to an earlier step."))


def on_text(turn: Turn) -> None:
    assert turn.conversation is not None
    if turn.conversation.state == "text":
        turn.data["text"] = turn.event.text[:4000]
        _ask_photo(turn)
    else:
        turn.say(_("Please use the buttons above, or /cancel."))


def on_photo(turn: Turn) -> None:
    assert turn.conversation is not None
    photo = turn.event.photo
    assert photo is not None
    if photo.content is None:
        turn.say(
            _(
                "This photo is too large (at most %(mb)d MB). Send it as a photo, not as a file, "
                "or skip."
            )
            % {"mb": settings.VISIT_PHOTO_MAX_BYTES // 1_048_576}
        )
        return
    if turn.conversation.state != "photo":
        turn.say(_("I was not expecting a photo now. Please use the buttons above, or /cancel."))
        return
    turn.data["photo"] = pending.keep(photo.content)
    _ask_place(turn)


def on_location(turn: Turn) -> None:
    assert turn.conversation is not None
    assert turn.actor is not None
    location = turn.event.location
    assert location is not None
    if turn.conversation.state != "place":
        turn.say(_("Please use the buttons above, or /cancel."))
        return
    if not (MIN_LAT <= location.latitude <= MAX_LAT and MIN_LON <= location.longitude <= MAX_LON):
        turn.say(outside_text())
        return
    turn.data["point"] = [location.latitude, location.longitude]
    _summary(turn)
