"""Logging a household visit, step by step:

household (worklist button, house number, head's name or household code) → when it happened
(asked only if the first message reached us long after it was written) → residents → for each,
services and outcomes → optional photo → optional note → summary → confirm.

Stored through ``outreach.services.visit_record`` with source "bot" and an idempotency key from
the summary message, so pressing "Save" twice (or Telegram delivering the press twice) stores
one visit. ``/edit`` corrects the last visit's time or note within the edit window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from cnsc.outreach.catalogue import STATES, Result, Service, State
from cnsc.outreach.models import Household, Visit, VisitSource
from cnsc.outreach.selectors import household_residents, household_search, worklist_for_member
from cnsc.outreach.services import OutcomeIn, visit_edit, visit_record

from ..dialog import Button, Turn, rows
from ..services import conversation_end, conversation_save, conversation_start
from . import pending
from .common import flow_button, local, parse_moment

FLOW = "visit"
SUGGESTIONS = 5
MATCHES = 8


# --- Helpers --------------------------------------------------------------------------------


def _household(turn: Turn, code: str) -> Household | None:
    """A household of the member's current team: nothing else can be visited."""
    assert turn.actor is not None
    assert turn.actor.team is not None
    return Household.objects.select_related("head").filter(team=turn.actor.team, code=code).first()


def _label(household: Household) -> str:
    address = " ".join(p for p in (household.house_number, household.street) if p)
    head = household.head.full_name if household.head else ""
    return " — ".join(p for p in (address or household.code, head) if p)


def _moment(value: str) -> dt.datetime:
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed


def _save(turn: Turn, state: str) -> None:
    assert turn.conversation is not None
    conversation_save(conversation=turn.conversation, state=state)


def _b(turn: Turn, label: str, action: str) -> Button:
    assert turn.conversation is not None
    return flow_button(turn.conversation, label, action)


def _cancel_row(turn: Turn) -> tuple[Button, ...]:
    return (_b(turn, _("✖ Cancel"), "cancel"),)


def _start(turn: Turn, state: str, data: dict[str, Any]) -> None:
    assert turn.actor is not None
    turn.conversation = conversation_start(
        chat_id=turn.event.chat_id,
        member=turn.actor.member,
        flow=FLOW,
        state=state,
        data=data,
    )


def _late(turn: Turn) -> bool:
    lag = timezone.now() - turn.event.sent_at
    return lag > dt.timedelta(minutes=settings.BOT_ASK_VISIT_TIME_AFTER_MINUTES)


# --- Starting ----------------------------------------------------------------------------------


def begin(turn: Turn) -> None:
    written = turn.event.sent_at.isoformat()
    _start(turn, "household", {"written_at": written, "at": written, "late": _late(turn)})
    if turn.event.args:
        _search(turn, turn.event.args)
        return
    _ask_household(turn)


def begin_with_household(turn: Turn, code: str) -> None:
    household = _household(turn, code)
    if household is None:
        turn.notice(_("This household is not on your team's list any more."), alert=True)
        return
    now = timezone.now().isoformat()
    _start(turn, "household", {"written_at": now, "at": now, "late": False})
    turn.notice(_label(household)[:200])
    _chosen(turn, household)


def _ask_household(turn: Turn) -> None:
    assert turn.actor is not None
    suggestions = worklist_for_member(
        member=turn.actor.member, team=turn.actor.team, limit=SUGGESTIONS
    )
    keyboard: list[tuple[Button, ...]] = [
        (_b(turn, _label(h)[:60], f"hh={h.code}"),) for h in suggestions
    ]
    keyboard.append(_cancel_row(turn))
    turn.show(
        _(
            "Which household? Type the house number, the head's name (with or without accents) "
            "or the household code, or pick one from your worklist:"
        ),
        tuple(keyboard),
    )
    _save(turn, "household")


def _search(turn: Turn, text: str) -> None:
    assert turn.actor is not None
    found = household_search(
        member=turn.actor.member, team=turn.actor.team, text=text, limit=MATCHES + 1
    )
    if len(found) == 1:
        _chosen(turn, found[0])
        return
    if not found:
        turn.say(
            _(
                "No household of your team matches “%(text)s”. Try the house number or the "
                "head's name again, or /cancel."
            )
            % {"text": text[:50]},
            (_cancel_row(turn),),
        )
        _save(turn, "household")
        return
    keyboard: list[tuple[Button, ...]] = [
        (_b(turn, _label(h)[:60], f"hh={h.code}"),) for h in found[:MATCHES]
    ]
    keyboard.append(_cancel_row(turn))
    extra = _(" (more match: type more of the name or address)") if len(found) > MATCHES else ""
    turn.say(_("Which one?") + extra, tuple(keyboard))
    _save(turn, "household")


def _chosen(turn: Turn, household: Household) -> None:
    data = turn.data
    residents = household_residents(household=household)
    data.update(
        hh=household.code,
        label=_label(household),
        names={r.code: r.full_name for r in residents},
        states={r.code: getattr(r, "states", {}) for r in residents},
        sel=[],
        out={},
        i=0,
    )
    if data.get("late"):
        _ask_time(turn)
    else:
        _ask_residents(turn)


# --- When ----------------------------------------------------------------------------------


def _ask_time(turn: Turn) -> None:
    written = _moment(turn.data["written_at"])
    turn.show(
        _(
            "Your message reached me at %(written)s. When did the visit happen? Press a button or "
            "type the time, e.g. 14:30 or 21/03 14:30."
        )
        % {"written": local(written)},
        (
            (
                _b(turn, _("At %(time)s") % {"time": local(written)}, "when=written"),
                _b(turn, _("Just now"), "when=now"),
            ),
            _cancel_row(turn),
        ),
    )
    _save(turn, "when")


def _set_time(turn: Turn, moment: dt.datetime) -> None:
    turn.data["at"] = moment.isoformat()
    turn.data["late"] = False
    if turn.data.get("sel") or turn.data.get("summary_seen"):
        _summary(turn)
    else:
        _ask_residents(turn)


# --- Residents and outcomes ---------------------------------------------------------------------


def _ask_residents(turn: Turn) -> None:
    data = turn.data
    names: dict[str, str] = data["names"]
    if not names:
        turn.show(
            _("%(household)s has no residents on record. Save the visit without outcomes?")
            % {"household": data["label"]},
            ((_b(turn, _("Continue"), "rdone"),), _cancel_row(turn)),
        )
        _save(turn, "residents")
        return
    selected = set(data["sel"])
    keyboard: list[tuple[Button, ...]] = [
        (_b(turn, ("☑ " if code in selected else "☐ ") + name[:50], f"r={code}"),)
        for code, name in names.items()
    ]
    keyboard.append((_b(turn, _("✔ Done"), "rdone"), *_cancel_row(turn)))
    turn.show(
        _("%(household)s\nWho did you help? Tick the residents, then press Done.")
        % {"household": data["label"]},
        tuple(keyboard),
    )
    _save(turn, "residents")


def _service_label(service: str, state: str) -> str:
    label = str(Service(service).label)
    return f"{label} ({State(state).label})" if state and state != State.NONE else label


def _ask_services(turn: Turn) -> None:
    data = turn.data
    code = data["sel"][data["i"]]
    current: dict[str, str] = data["states"].get(code, {})
    done: dict[str, list[str]] = data["out"].get(code, {})
    keyboard: list[tuple[Button, ...]] = []
    for service in STATES:
        mark = "✅ " if service in done else ""
        keyboard.append(
            (_b(turn, mark + _service_label(service, current.get(service, "")), f"s={service}"),)
        )
    last = data["i"] + 1 >= len(data["sel"])
    keyboard.append(
        (_b(turn, _("Finish ▶") if last else _("Next resident ▶"), "next"), *_cancel_row(turn))
    )
    turn.show(
        _("%(name)s (%(n)d of %(total)d): which service did you help with?")
        % {"name": data["names"][code], "n": data["i"] + 1, "total": len(data["sel"])},
        tuple(keyboard),
    )
    _save(turn, "services")


def _ask_outcome(turn: Turn, service: str) -> None:
    turn.data["svc"] = service
    keyboard = rows([_b(turn, str(label), f"o={value}") for value, label in Result.choices])
    turn.show(
        _("%(name)s — %(service)s: what came of it?")
        % {
            "name": turn.data["names"][turn.data["sel"][turn.data["i"]]],
            "service": Service(service).label,
        },
        (*keyboard, (_b(turn, _("◀ Back"), "back"),)),
    )
    _save(turn, "outcome")


def _ask_state(turn: Turn) -> None:
    service = turn.data["svc"]
    choices = [s for s in STATES[service] if s != State.NONE]
    keyboard = rows([_b(turn, str(State(s).label), f"st={s}") for s in choices], per_row=1)
    turn.show(
        _("%(service)s: which step was reached?") % {"service": Service(service).label},
        (*keyboard, (_b(turn, _("◀ Back"), "back"),)),
    )
    _save(turn, "state")


def _record_outcome(turn: Turn, result: str, new_state: str = "") -> None:
    data = turn.data
    code = data["sel"][data["i"]]
    data["out"].setdefault(code, {})[data.pop("svc")] = [result, new_state]
    _ask_services(turn)


def _next_resident(turn: Turn) -> None:
    data = turn.data
    if data["i"] + 1 < len(data["sel"]):
        data["i"] += 1
        _ask_services(turn)
    else:
        _ask_photo(turn)


# --- Photo, note, summary ---------------------------------------------------------------------


def _ask_photo(turn: Turn) -> None:
    turn.show(
        _(
            "Send a photo of the visit if you like (never a photo of an ID card or a VNeID "
            "screen), or skip."
        ),
        ((_b(turn, _("Skip ▶"), "skip"), *_cancel_row(turn)),),
    )
    _save(turn, "photo")


def _ask_note(turn: Turn) -> None:
    turn.show(
        _("Type a short note if you like, or skip."),
        ((_b(turn, _("Skip ▶"), "skip"), *_cancel_row(turn)),),
    )
    _save(turn, "note")


def summary_lines(data: dict[str, Any]) -> list[str]:
    lines = [
        _("Visit to %(household)s") % {"household": data["label"]},
        _("When: %(time)s") % {"time": local(_moment(data["at"]))},
    ]
    for code in data["sel"]:
        lines.append(f"• {data['names'].get(code, code)}:")
        outcomes = data["out"].get(code, {})
        if not outcomes:
            lines.append("   " + _("nothing recorded"))
        for service, (result, new_state) in outcomes.items():
            step = f" → {State(new_state).label}" if new_state else ""
            lines.append(f"   {Service(service).label}: {Result(result).label}{step}")
    if data.get("photo"):
        lines.append(_("Photo: yes"))
    if data.get("note"):
        lines.append(_("Note: %(note)s") % {"note": data["note"]})
    return lines


def _summary(turn: Turn) -> None:
    turn.data["summary_seen"] = True
    turn.say(
        "\n".join([*summary_lines(turn.data), "", _("Save this visit?")]),
        (
            (_b(turn, _("✅ Save"), "ok"), _b(turn, _("🕒 Change time"), "time")),
            _cancel_row(turn),
        ),
    )
    _save(turn, "summary")


def _confirm(turn: Turn) -> None:
    assert turn.actor is not None
    data = turn.data
    household = _household(turn, data["hh"])
    if household is None:
        conversation_end(chat_id=turn.event.chat_id)
        turn.show(_("This household is no longer covered by your team. Nothing was saved."))
        return
    outcomes = [
        OutcomeIn(resident=code, service=service, result=result, new_state=new_state or None)
        for code in data["sel"]
        for service, (result, new_state) in data["out"].get(code, {}).items()
    ]
    photo = pending.read(data.get("photo", ""))
    try:
        visit, _created = visit_record(
            member=turn.actor.member,
            household=household,
            happened_at=_moment(data["at"]),
            outcomes=outcomes,
            idempotency_key=turn.event.origin,
            source=VisitSource.BOT,
            notes=data.get("note", ""),
            photos=[photo] if photo else [],
        )
    except ValidationError as exc:
        turn.notice(" ".join(exc.messages)[:200], alert=True)
        turn.say(" ".join(exc.messages) + "\n" + _("Change the time, or /cancel."))
        return
    pending.drop(data.get("photo", ""))
    conversation_end(chat_id=turn.event.chat_id)
    turn.show(
        "\n".join(
            [
                *summary_lines(data),
                "",
                _(
                    "✅ Saved (visit %(code)s). You can correct its time or note with /edit for "
                    "%(minutes)d minutes."
                )
                % {"code": visit.code, "minutes": settings.VISIT_EDIT_WINDOW_MINUTES},
            ]
        )
    )
    turn.notice(_("Saved."))


# --- Dispatch -------------------------------------------------------------------------------


def on_button(turn: Turn, action: str) -> None:
    assert turn.conversation is not None
    state = turn.conversation.state
    name, _sep, value = action.partition("=")
    data = turn.data
    if name == "cancel":
        pending.drop(data.get("photo", ""))
        conversation_end(chat_id=turn.event.chat_id)
        turn.show(_("Cancelled. Nothing was saved."))
        return
    if state.startswith("edit"):
        _edit_button(turn, name, value)
        return
    if name == "hh" and state == "household":
        household = _household(turn, value)
        if household is None:
            turn.notice(_("This household is not on your team's list any more."), alert=True)
            return
        _chosen(turn, household)
    elif name == "when" and state == "when":
        _set_time(turn, _moment(data["written_at"]) if value == "written" else timezone.now())
    elif name == "r" and state == "residents" and value in data["names"]:
        selected = data["sel"]
        if value in selected:
            selected.remove(value)
        else:
            selected.append(value)
        _ask_residents(turn)
    elif name == "rdone" and state == "residents":
        if data["sel"]:
            data["sel"] = [c for c in data["names"] if c in data["sel"]]
            data["i"] = 0
            _ask_services(turn)
        else:
            _ask_photo(turn)
    elif name == "s" and state == "services" and value in STATES:
        _ask_outcome(turn, value)
    elif name == "next" and state == "services":
        _next_resident(turn)
    elif name == "back" and state in ("outcome", "state"):
        data.pop("svc", None)
        _ask_services(turn)
    elif name == "o" and state == "outcome" and value in Result.values:
        if value == Result.DONE and len(STATES[data["svc"]]) > 2:
            data["result"] = value
            _ask_state(turn)
        else:
            _record_outcome(turn, value)
    elif name == "st" and state == "state" and value in STATES.get(data.get("svc", ""), ()):
        _record_outcome(turn, data.pop("result", Result.DONE), value)
    elif name == "skip" and state == "photo":
        _ask_note(turn)
    elif name == "skip" and state == "note":
        _summary(turn)
    elif name == "ok" and state == "summary":
        _confirm(turn)
    elif name == "time" and state == "summary":
        _ask_time(turn)
    else:
        turn.notice(_("This button belongs to an earlier step."))


def on_text(turn: Turn) -> None:
    assert turn.conversation is not None
    state = turn.conversation.state
    text = turn.event.text
    if state == "household":
        _search(turn, text)
    elif state in ("when", "edit_time"):
        moment = parse_moment(text, now=timezone.now())
        if moment is None:
            turn.say(_("I could not read that time. Write it like 14:30 or 21/03 14:30."))
        elif state == "edit_time":
            _apply_edit(turn, happened_at=moment)
        else:
            _set_time(turn, moment)
    elif state in ("note", "edit_note"):
        if state == "edit_note":
            _apply_edit(turn, notes=text)
            return
        turn.data["note"] = text[:2000]
        _summary(turn)
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
    pending.drop(turn.data.get("photo", ""))
    turn.data["photo"] = pending.keep(photo.content)
    _ask_note(turn)


def on_location(turn: Turn) -> None:
    turn.say(_("Finish or /cancel the visit first, then share your location to check in."))


# --- Editing the last visit -----------------------------------------------------------------


def edit_last(turn: Turn) -> None:
    assert turn.actor is not None
    window = dt.timedelta(minutes=settings.VISIT_EDIT_WINDOW_MINUTES)
    visit = (
        Visit.objects.filter(
            member=turn.actor.member,
            source=VisitSource.BOT,
            recorded_at__gte=timezone.now() - window,
        )
        .order_by("-recorded_at")
        .first()
    )
    if visit is None:
        turn.say(
            _("You have no visit recorded in the last %(minutes)d minutes to correct.")
            % {"minutes": settings.VISIT_EDIT_WINDOW_MINUTES}
        )
        return
    _start(turn, "edit", {"visit": visit.code})
    _edit_menu(turn, visit)


def _edit_menu(turn: Turn, visit: Visit) -> None:
    turn.show(
        _("Your last visit (%(code)s) at %(time)s. What do you want to correct?")
        % {"code": visit.code, "time": local(visit.happened_at)}
        + ("\n" + _("Note: %(note)s") % {"note": visit.notes} if visit.notes else ""),
        (
            (_b(turn, _("🕒 Time"), "etime"), _b(turn, _("📝 Note"), "enote")),
            (_b(turn, _("✔ Done"), "cancel"),),
        ),
    )
    _save(turn, "edit")


def _edit_button(turn: Turn, name: str, value: str) -> None:
    if name == "etime":
        turn.show(_("Type the time of the visit, e.g. 14:30 or 21/03 14:30."), (_cancel_row(turn),))
        _save(turn, "edit_time")
    elif name == "enote":
        turn.show(_("Type the new note."), (_cancel_row(turn),))
        _save(turn, "edit_note")
    else:
        turn.notice(_("This button belongs to an earlier step."))


def _apply_edit(turn: Turn, **changes: Any) -> None:
    assert turn.actor is not None
    visit = Visit.objects.filter(member=turn.actor.member, code=turn.data["visit"]).first()
    if visit is None:
        conversation_end(chat_id=turn.event.chat_id)
        turn.say(_("This visit cannot be found."))
        return
    try:
        visit = visit_edit(visit=visit, member=turn.actor.member, **changes)
    except ValidationError as exc:
        conversation_end(chat_id=turn.event.chat_id)
        turn.say(" ".join(exc.messages))
        return
    turn.say(_("✅ Corrected."))
    _edit_menu(turn, visit)
