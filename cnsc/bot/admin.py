"""Back office for the bot: linked accounts (unlink a lost phone), invitations (made one at a
time, shown once with their QR code), and broadcasts with each recipient's delivery state."""

from __future__ import annotations

import base64
import io
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from cnsc.core.admin import ScopedAdmin
from cnsc.core.pdf import qr_image
from cnsc.geo.admin import commune_filter

from .models import BotInvitation, Broadcast, BroadcastDelivery, DeliveryState, TelegramAccount
from .services import broadcast_check, broadcast_create, deep_link, invitation_create


@admin.register(TelegramAccount)
class TelegramAccountAdmin(ScopedAdmin):
    list_display = ("member", "linked_by", "linked_at", "language")
    list_filter = (commune_filter("member__commune"), "linked_by", "language")
    list_select_related = ("member",)
    search_fields = ("member__code",)
    normalized_search_fields = ("member__search_name",)
    fields = ("member", "linked_by", "linked_at", "language")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts are linked from Telegram, with an invitation.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvitationForm(forms.ModelForm):
    class Meta:
        model = BotInvitation
        fields = ("member",)


@admin.register(BotInvitation)
class BotInvitationAdmin(ScopedAdmin):
    form = InvitationForm
    list_display = ("member", "created_at", "expires_at", "status", "created_by")
    list_filter = (commune_filter("member__commune"),)
    list_select_related = ("member", "created_by")
    normalized_search_fields = ("member__search_name",)
    search_fields = ("member__code",)
    readonly_fields = ("created_at", "expires_at", "used_at", "revoked_at", "created_by")

    @admin.display(description=_("state"))
    def status(self, invitation: BotInvitation) -> str:
        return invitation.state

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("member",)
        return ("member", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("member", *self.readonly_fields) if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        invitation, token = invitation_create(member=obj.member, by=request.user)
        obj.pk, obj.created_at = invitation.pk, invitation.created_at
        request._cnsc_invitation_token = token  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        token = request._cnsc_invitation_token  # type: ignore[attr-defined]
        invitation = BotInvitation.objects.select_related("member").get(pk=obj.pk)
        link = deep_link(token)
        buffer = io.BytesIO()
        qr_image(link).save(buffer, format="PNG")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Invitation to the bot"),
            "member": invitation.member,
            "link": link,
            "qr_png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "filename": f"cnsc-bot-{invitation.member.code}.png",
            "expires": formats.date_format(invitation.expires_at, "DATETIME_FORMAT"),
            "back_url": reverse("admin:bot_botinvitation_changelist"),
        }
        return TemplateResponse(request, "admin/bot/invitation_link.html", context)


class DeliveryInline(TabularInline):
    model = BroadcastDelivery
    extra = 0
    can_delete = False
    fields = ("member", "state", "reason", "attempts", "sent_at")
    readonly_fields = fields
    verbose_name_plural = _("delivery to each recipient")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return BroadcastDelivery.objects.visible_to(request.user).select_related("member")


class BroadcastForm(forms.ModelForm):
    class Meta:
        model = Broadcast
        fields = ("commune", "text", "teams", "members")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        commune = data.get("commune")
        if commune is not None and not self.errors:
            try:
                broadcast_check(
                    commune=commune,
                    text=data.get("text", ""),
                    teams=list(data.get("teams") or ()),
                    members=list(data.get("members") or ()),
                )
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
        return data


@admin.register(Broadcast)
class BroadcastAdmin(ScopedAdmin):
    form = BroadcastForm
    list_display = (
        "created_at",
        "short_text",
        "commune",
        "created_by",
        "sent",
        "waiting",
        "not_delivered",
    )
    list_filter = (commune_filter("commune"),)
    list_select_related = ("commune", "created_by")
    filter_horizontal = ("teams", "members")
    inlines = (DeliveryInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sent=Count("deliveries", filter=Q(deliveries__state=DeliveryState.SENT)),
                n_waiting=Count("deliveries", filter=Q(deliveries__state=DeliveryState.QUEUED)),
                n_failed=Count(
                    "deliveries",
                    filter=Q(deliveries__state__in=[DeliveryState.FAILED, DeliveryState.BLOCKED]),
                ),
            )
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("commune", "text", "teams", "members")
        return ("commune", "text", "teams", "members", "created_by", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("commune", "text", "teams", "members", "created_by", "created_at")

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    @admin.display(description=_("text"))
    def short_text(self, broadcast: Broadcast) -> str:
        return broadcast.text[:60]

    @admin.display(description=_("sent"), ordering="n_sent")
    def sent(self, broadcast: Broadcast) -> int:
        return broadcast.n_sent  # type: ignore[attr-defined]

    @admin.display(description=_("waiting"))
    def waiting(self, broadcast: Broadcast) -> int:
        return broadcast.n_waiting  # type: ignore[attr-defined]

    @admin.display(description=_("failed or blocked"))
    def not_delivered(self, broadcast: Broadcast) -> int:
        return broadcast.n_failed  # type: ignore[attr-defined]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A notice once sent cannot be taken back or changed.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        broadcast = broadcast_create(
            commune=data["commune"],
            text=data["text"],
            teams=data.get("teams") or (),
            members=data.get("members") or (),
            by=request.user,
        )
        obj.pk, obj.created_at = broadcast.pk, broadcast.created_at

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # broadcast_create already recorded the recipients.
        return None
