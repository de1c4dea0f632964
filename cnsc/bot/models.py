"""What the bot keeps: which Telegram account belongs to which member, invitations to link one,
the state of each chat's conversation, the updates already handled, and broadcasts with their
delivery to each recipient.

Scoping follows the member: an official sees the accounts, invitations and deliveries of the
members on their communes' rosters, and the broadcasts of their communes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core.codes import random_code
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit
from cnsc.team.models import CURRENT_COMMUNE, Member, Team

LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]


def _members_of(user: Viewer) -> Any:
    return Member.objects.visible_to(user).values("id")


class TelegramAccountQuerySet(models.QuerySet["TelegramAccount"]):
    def visible_to(self, user: Viewer) -> TelegramAccountQuerySet:
        return self.filter(member_id__in=_members_of(user))


class LinkMethod(models.TextChoices):
    INVITATION = "invitation", _("Invitation link")
    CONTACT = "contact", _("Shared phone number")


class TelegramAccount(models.Model):
    """The Telegram account a member uses with the bot; one per member and one member per
    account. Deleting it unlinks the member (a lost phone): they link again with a new
    invitation."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="telegram"
    )
    telegram_user_id = models.BigIntegerField(_("Telegram user id"), unique=True)
    chat_id = models.BigIntegerField(_("chat id"))
    language = models.CharField(_("language"), max_length=5, choices=LANGUAGES, default="vi")
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)
    linked_by = models.CharField(_("linked by"), max_length=10, choices=LinkMethod.choices)

    history = HistoricalRecords()
    objects = TelegramAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("Telegram account")
        verbose_name_plural = _("Telegram accounts")
        ordering = ["-linked_at"]

    def __str__(self) -> str:
        return str(self.member)


class BotInvitationQuerySet(models.QuerySet["BotInvitation"]):
    def visible_to(self, user: Viewer) -> BotInvitationQuerySet:
        return self.filter(member_id__in=_members_of(user))


def invitation_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=settings.BOT_INVITATION_DAYS)


class BotInvitation(models.Model):
    """A one-time link that ties the Telegram account opening it to ``member``. Only a hash of
    its token is kept: the link is shown once, when it is made."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="bot_invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), default=invitation_expiry)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["token_hash"])
    objects = BotInvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("bot invitation")
        verbose_name_plural = _("bot invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.member} {self.created_at:%Y-%m-%d}"

    @property
    def state(self) -> str:
        if self.used_at:
            return str(_("used"))
        if self.revoked_at:
            return str(_("replaced by a newer one"))
        if self.expires_at <= timezone.now():
            return str(_("expired"))
        return str(_("waiting"))


def conversation_token() -> str:
    return random_code(8)


class BotConversation(models.Model):
    """Where a chat stands in a multi-step flow (a visit being logged, a report being written).
    Kept in the database and written in the same transaction as what the step did, so a restart
    of the bot in the middle of a flow continues where it was. ``token`` is in every button of
    the flow: a button of an earlier, finished flow is recognised as expired."""

    chat_id = models.BigIntegerField(_("chat id"), unique=True)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+"
    )
    flow = models.CharField(_("flow"), max_length=20)
    state = models.CharField(_("state"), max_length=30)
    token = models.CharField(max_length=8, default=conversation_token)
    data = models.JSONField(_("data"), default=dict)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("bot conversation")
        verbose_name_plural = _("bot conversations")

    def __str__(self) -> str:
        return f"{self.chat_id} {self.flow}:{self.state}"


class ProcessedUpdate(models.Model):
    """An update already handled: the same update delivered again is ignored. Rows older than a
    few days are pruned (Telegram stops redelivering after 24 hours)."""

    key = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("processed update")
        verbose_name_plural = _("processed updates")

    def __str__(self) -> str:
        return self.key


# --- Broadcasts -----------------------------------------------------------------------------


class BroadcastQuerySet(models.QuerySet["Broadcast"]):
    def visible_to(self, user: Viewer) -> BroadcastQuerySet:
        from cnsc.access.scope import scope_for

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(commune_id__in=scope.commune_ids())


class Broadcast(models.Model):
    """A notice an official sends to teams and members of one commune through the bot."""

    MAX_LENGTH = 3500  # Telegram takes 4,096 characters; room for the heading.

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=CURRENT_COMMUNE,
    )
    text = models.TextField(_("text"), max_length=MAX_LENGTH)
    teams = models.ManyToManyField(
        Team, verbose_name=_("teams"), blank=True, related_name="broadcasts"
    )
    members = models.ManyToManyField(
        Member, verbose_name=_("members"), blank=True, related_name="broadcasts"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = BroadcastQuerySet.as_manager()

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.text[:40]}"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BLOCKED = "blocked", _("Blocked the bot")


class BroadcastDeliveryQuerySet(models.QuerySet["BroadcastDelivery"]):
    def visible_to(self, user: Viewer) -> BroadcastDeliveryQuerySet:
        return self.filter(broadcast__in=Broadcast.objects.visible_to(user))

    def due(self, now: dt.datetime) -> BroadcastDeliveryQuerySet:
        return self.filter(state=DeliveryState.QUEUED, not_before__lte=now)


class BroadcastDelivery(models.Model):
    """One recipient of a broadcast. The queue itself: the worker sends the queued rows whose
    time has come, so a worker that stops loses nothing, and a row once sent is never sent
    again."""

    broadcast = models.ForeignKey(
        Broadcast, verbose_name=_("broadcast"), on_delete=models.CASCADE, related_name="deliveries"
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+"
    )
    chat_id = models.BigIntegerField(_("chat id"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=8, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    not_before = models.DateTimeField(_("not before"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = BroadcastDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("broadcast delivery")
        verbose_name_plural = _("broadcast deliveries")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "member"], name="bot_delivery_one_per_member"
            ),
            models.CheckConstraint(
                condition=Q(state="sent", sent_at__isnull=False)
                | (~Q(state="sent") & Q(sent_at__isnull=True)),
                name="bot_delivery_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["not_before"],
                condition=Q(state="queued"),
                name="bot_delivery_queued",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.get_state_display()}"
