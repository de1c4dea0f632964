"""Linking a Telegram account to a member: by invitation link, or by sharing one's own phone
number. Everyone else gets a polite refusal saying how to get an invitation."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from ..dialog import Turn
from ..services import LinkError, account_link_by_contact, account_link_by_invitation
from . import info


def _refusal() -> str:
    return _(
        "Hello! This bot is for members of the community digital technology teams (Tổ CNSC). "
        "Your Telegram account is not linked to a member yet.\n\n"
        "To link it, ask your commune official for your invitation link or QR code and open "
        "it, or press “Share my phone number” below if your number is on your team's roster."
    )


def _error_text(code: str) -> str:
    messages = {
        "invalid": _("This invitation link is not valid. Ask your commune official for a new one."),
        "used": _(
            "This invitation has already been used. If it was not you, tell your commune "
            "official; otherwise ask for a new invitation."
        ),
        "replaced": _("A newer invitation was made for you: open the newest link."),
        "expired": _("This invitation has expired. Ask your commune official for a new one."),
        "no_team": _(
            "You are not in an active team at the moment, so the bot cannot be linked. Ask "
            "your commune official."
        ),
        "other_account": _(
            "This Telegram account is already linked to another member. Ask your commune "
            "official to unlink it first."
        ),
        "not_own_contact": _(
            "Please share your own phone number with the button below, not someone else's contact."
        ),
        "phone_invalid": _("Only Vietnamese phone numbers can be linked."),
        "no_member": _(
            "No team member without a linked account has this phone number. Ask your commune "
            "official for an invitation link."
        ),
    }
    return messages.get(code, messages["invalid"])


def _linked(turn: Turn, language: str, name: str) -> None:
    with translation.override(language):
        turn.say(
            _("Welcome, %(name)s! Your Telegram account is now linked. ") % {"name": name}
            + info.help_text(),
            request="remove",
        )


def by_invitation(turn: Turn) -> None:
    event = turn.event
    try:
        account = account_link_by_invitation(
            token=event.args.strip(),
            telegram_user_id=event.user_id,
            chat_id=event.chat_id,
            language=turn.actor.account.language if turn.actor else settings.LANGUAGE_CODE,
        )
    except LinkError as exc:
        turn.say(_error_text(exc.code))
        return
    _linked(turn, account.language, account.member.full_name)


def by_contact(turn: Turn) -> None:
    event = turn.event
    assert event.contact is not None
    try:
        account = account_link_by_contact(
            phone=event.contact.phone,
            contact_user_id=event.contact.user_id,
            telegram_user_id=event.user_id,
            chat_id=event.chat_id,
            language=turn.actor.account.language if turn.actor else settings.LANGUAGE_CODE,
        )
    except LinkError as exc:
        turn.say(_error_text(exc.code), request="contact" if exc.code == "not_own_contact" else "")
        return
    _linked(turn, account.language, account.member.full_name)


def refuse(turn: Turn) -> None:
    if turn.event.button:
        turn.notice(_("Your Telegram account is not linked to a team member."), alert=True)
        return
    turn.say(_refusal(), request="contact")


def no_team(turn: Turn) -> None:
    text = _(
        "You are not in an active team at the moment, so the bot cannot record anything for "
        "you. If this is a mistake, ask your commune official."
    )
    if turn.event.button:
        turn.notice(text, alert=True)
    else:
        turn.say(text)
