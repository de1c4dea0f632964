"""Writes of the bot's own tables: invitations and linking, the language, conversation state,
handled updates, broadcasts and their deliveries. Business writes (visits, check-ins, reports)
are the outreach services'; the bot only calls them."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from cnsc.core.identity import normalize_phone
from cnsc.geo.models import AdminUnit
from cnsc.team.models import Member, Membership, Team, TeamStatus

from .models import (
    LANGUAGES,
    BotConversation,
    BotInvitation,
    Broadcast,
    BroadcastDelivery,
    DeliveryState,
    LinkMethod,
    ProcessedUpdate,
    TelegramAccount,
)

# Telegram's deep-link payload: at most 64 characters of A-Z a-z 0-9 _ -. 32 random bytes give
# 43 such characters.
TOKEN_BYTES = 32
PROCESSED_UPDATES_KEPT = dt.timedelta(days=3)


def token_hash(token: str) -> str:
    # The token is 256 random bits: a plain hash cannot be reversed or guessed.
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def deep_link(token: str) -> str:
    return f"https://t.me/{settings.TELEGRAM_BOT_USERNAME or 'your_bot'}?start={token}"


# --- Linking --------------------------------------------------------------------------------


class LinkError(Exception):
    """Linking refused; ``code`` says why (invalid, used, expired, replaced, other_account,
    no_team, not_own_contact, phone_invalid, no_member)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _in_active_team(member: Member) -> bool:
    return Membership.objects.filter(
        member=member, left_on__isnull=True, team__status=TeamStatus.ACTIVE
    ).exists()


@transaction.atomic
def invitation_create(*, member: Member, by: Any) -> tuple[BotInvitation, str]:
    """A new one-time invitation for ``member`` and its token (shown once, never stored).
    Earlier invitations still waiting are revoked: only the newest link works."""
    now = timezone.now()
    BotInvitation.objects.filter(
        member=member, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = BotInvitation.objects.create(
        member=member,
        token_hash=token_hash(token),
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    return invitation, token


def _link(
    *, member: Member, telegram_user_id: int, chat_id: int, language: str, method: str
) -> TelegramAccount:
    taken = TelegramAccount.objects.filter(telegram_user_id=telegram_user_id).first()
    if taken is not None and taken.member_id != member.pk:
        raise LinkError("other_account")
    # A member has one account: a new phone replaces the old one.
    TelegramAccount.objects.filter(member=member).exclude(
        telegram_user_id=telegram_user_id
    ).delete()
    account, _created = TelegramAccount.objects.update_or_create(
        telegram_user_id=telegram_user_id,
        defaults={
            "member": member,
            "chat_id": chat_id,
            "linked_at": timezone.now(),
            "linked_by": method,
            "language": language if language in dict(LANGUAGES) else settings.LANGUAGE_CODE,
        },
    )
    return account


@transaction.atomic
def account_link_by_invitation(
    *, token: str, telegram_user_id: int, chat_id: int, language: str = ""
) -> TelegramAccount:
    """Link the Telegram account that opened the invitation link. LinkError if the token is
    unknown, used, replaced or expired, or the member is in no active team."""
    if not token or len(token) > 64:
        raise LinkError("invalid")
    invitation = (
        BotInvitation.objects.select_for_update()
        .select_related("member")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None:
        raise LinkError("invalid")
    if invitation.used_at is not None:
        raise LinkError("used")
    if invitation.revoked_at is not None:
        raise LinkError("replaced")
    if invitation.expires_at <= timezone.now():
        raise LinkError("expired")
    if not _in_active_team(invitation.member):
        raise LinkError("no_team")
    account = _link(
        member=invitation.member,
        telegram_user_id=telegram_user_id,
        chat_id=chat_id,
        language=language,
        method=LinkMethod.INVITATION,
    )
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    return account


def _contact_phone(raw: str) -> str:
    text = (raw or "").strip()
    # Telegram sends the number in international form, mostly without the "+".
    if text.isdigit() and not text.startswith("0"):
        text = "+" + text
    return normalize_phone(text)


@transaction.atomic
def account_link_by_contact(
    *,
    phone: str,
    contact_user_id: int | None,
    telegram_user_id: int,
    chat_id: int,
    language: str = "",
) -> TelegramAccount:
    """Link through a shared contact: it must be the sender's own, and its phone must be that
    of exactly one member in an active team who has no linked account yet."""
    if contact_user_id != telegram_user_id:
        raise LinkError("not_own_contact")
    try:
        e164 = _contact_phone(phone)
    except ValidationError:
        raise LinkError("phone_invalid") from None
    in_team = Membership.objects.filter(
        member=OuterRef("pk"), left_on__isnull=True, team__status=TeamStatus.ACTIVE
    )
    candidates = list(
        Member.objects.select_for_update(of=("self",))
        .filter(Exists(in_team), phone=e164, telegram__isnull=True)
        .order_by("pk")[:2]
    )
    if len(candidates) != 1:
        if TelegramAccount.objects.filter(
            telegram_user_id=telegram_user_id, member__phone=e164
        ).exists():
            return TelegramAccount.objects.get(telegram_user_id=telegram_user_id)
        raise LinkError("no_member")
    return _link(
        member=candidates[0],
        telegram_user_id=telegram_user_id,
        chat_id=chat_id,
        language=language,
        method=LinkMethod.CONTACT,
    )


@transaction.atomic
def account_set_language(*, account: TelegramAccount, language: str) -> TelegramAccount:
    if language not in dict(LANGUAGES):
        raise ValidationError({"language": _("Unknown language.")})
    account.language = language
    account.save(update_fields=["language"])
    return account


# --- Updates and conversations ----------------------------------------------------------------


def update_claim(*, key: str) -> bool:
    """Record that update ``key`` is being handled; False if it was handled before. Call inside
    the transaction that handles it, so a failed attempt does not count as handled."""
    # One statement, no savepoint: this runs for every update. PostgreSQL and SQLite both
    # understand ON CONFLICT DO NOTHING; the unique index decides between two deliveries.
    table = ProcessedUpdate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, at) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",  # noqa: S608
            [key, timezone.now()],
        )
        return cursor.rowcount == 1


def processed_updates_prune(*, now: dt.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - PROCESSED_UPDATES_KEPT
    deleted, _rows = ProcessedUpdate.objects.filter(at__lt=cutoff).delete()
    return deleted


def conversation_start(
    *, chat_id: int, member: Member, flow: str, state: str, data: dict[str, Any]
) -> BotConversation:
    """Start ``flow`` in the chat, replacing whatever flow was running there."""
    BotConversation.objects.filter(chat_id=chat_id).delete()
    return BotConversation.objects.create(
        chat_id=chat_id, member=member, flow=flow, state=state, data=data
    )


@functools.cache
def _conversation_update() -> tuple[str, list[Any]]:
    meta = BotConversation._meta
    fields = [meta.get_field(name) for name in ("state", "data", "updated_at")]
    assignments = ", ".join(f'"{f.column}" = %s' for f in fields)  # type: ignore[union-attr]
    return f'UPDATE "{meta.db_table}" SET {assignments} WHERE "id" = %s', fields  # noqa: S608


def conversation_save(*, conversation: BotConversation, state: str) -> BotConversation:
    """Store the flow's new state and data: what ``save(update_fields=[...])`` writes, in a
    statement written once per process (this runs on nearly every update)."""
    conversation.state = state
    conversation.updated_at = timezone.now()
    sql, fields = _conversation_update()
    params = [
        field.get_db_prep_save(getattr(conversation, field.attname), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, conversation.pk])
    return conversation


def conversation_end(*, chat_id: int) -> bool:
    deleted, _rows = BotConversation.objects.filter(chat_id=chat_id).delete()
    return bool(deleted)


# --- Broadcasts -----------------------------------------------------------------------------


def broadcast_check(
    *, commune: AdminUnit, text: str, teams: list[Team], members: list[Member]
) -> str:
    """The notice's text, cleaned; ValidationError if it or its recipients will not do."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write the notice.")})
    if len(text) > Broadcast.MAX_LENGTH:
        raise ValidationError(
            {
                "text": _("The notice is too long (at most %(max)d characters).")
                % {"max": Broadcast.MAX_LENGTH}
            }
        )
    if not teams and not members:
        raise ValidationError(_("Choose at least one team or member."))
    if any(t.commune_id != commune.pk for t in teams) or any(
        m.commune_id != commune.pk for m in members
    ):
        raise ValidationError(_("Every team and member must be of the chosen commune."))
    return text


@transaction.atomic
def broadcast_create(
    *,
    commune: AdminUnit,
    text: str,
    teams: Iterable[Team] = (),
    members: Iterable[Member] = (),
    by: Any,
) -> Broadcast:
    """A notice to the current members of ``teams`` and to ``members``, all of ``commune``. One
    delivery per recipient: queued for those with a linked account, failed ("not linked")
    for the others, so the official sees who will not get it. Delivery starts after commit."""
    teams, members = list(teams), list(members)
    text = broadcast_check(commune=commune, text=text, teams=teams, members=members)
    broadcast = Broadcast.objects.create(
        commune=commune,
        text=text,
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    broadcast.teams.set(teams)
    broadcast.members.set(members)
    recipients = {m.pk for m in members} | set(
        Membership.objects.filter(team__in=teams, left_on__isnull=True).values_list(
            "member_id", flat=True
        )
    )
    chats = dict(
        TelegramAccount.objects.filter(member_id__in=recipients).values_list("member_id", "chat_id")
    )
    BroadcastDelivery.objects.bulk_create(
        BroadcastDelivery(
            broadcast=broadcast,
            member_id=member_id,
            chat_id=chats.get(member_id),
            state=DeliveryState.QUEUED if member_id in chats else DeliveryState.FAILED,
            reason="" if member_id in chats else str(_("Not linked to the bot.")),
        )
        for member_id in sorted(recipients)
    )
    from .tasks import send_broadcasts

    transaction.on_commit(send_broadcasts.enqueue)
    return broadcast


@dataclass(frozen=True)
class DeliveryJob:
    id: int
    chat_id: int
    text: str
    attempts: int


# How long a claimed delivery is left to the worker sending it before another may retry it.
CLAIM_LEASE = dt.timedelta(minutes=5)


def deliveries_claim(*, now: dt.datetime, limit: int) -> list[DeliveryJob]:
    """The next queued deliveries whose time has come, oldest first. Each is pushed a little
    into the future while it is being sent, so a second worker does not pick it up too, and a
    worker that dies mid-send leaves it to be retried."""
    with transaction.atomic():
        rows = list(
            BroadcastDelivery.objects.due(now)
            .select_for_update(skip_locked=True)
            .select_related("broadcast")
            .order_by("not_before", "pk")[:limit]
        )
        lease_end = now + CLAIM_LEASE
        BroadcastDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(not_before=lease_end)
        if rows:
            from .tasks import follow_up_at

            # Should this worker die mid-send, a run is waiting for when the lease ends.
            follow_up_at(lease_end + dt.timedelta(seconds=1))
    return [
        DeliveryJob(id=r.pk, chat_id=r.chat_id or 0, text=r.broadcast.text, attempts=r.attempts)
        for r in rows
    ]


def deliveries_release(*, ids: list[int], at: dt.datetime) -> None:
    """Put claimed deliveries that were not attempted back in the queue, due at ``at``."""
    BroadcastDelivery.objects.filter(pk__in=ids, state=DeliveryState.QUEUED).update(not_before=at)


@transaction.atomic
def delivery_mark(
    *,
    job_id: int,
    state: str,
    reason: str = "",
    message_id: int | None = None,
    retry_at: dt.datetime | None = None,
    count_attempt: bool = True,
) -> None:
    """Record the outcome of one attempt. ``retry_at``: keep it queued until then;
    ``count_attempt`` false for Telegram's "slow down", which is no fault of the recipient."""
    delivery = BroadcastDelivery.objects.select_for_update().get(pk=job_id)
    if delivery.state == DeliveryState.SENT:
        return
    if count_attempt:
        delivery.attempts += 1
    delivery.reason = reason[:300]
    if retry_at is not None:
        delivery.state = DeliveryState.QUEUED
        delivery.not_before = retry_at
    else:
        delivery.state = state
    if state == DeliveryState.SENT:
        delivery.sent_at = timezone.now()
        delivery.message_id = message_id
    delivery.save()
