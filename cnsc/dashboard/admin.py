"""Back office for indicator targets (province staff, for their units) and API clients
(superusers: a client reads across communes)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from cnsc.core.admin import ScopedAdmin

from .models import ApiClient, IndicatorTarget
from .services import api_client_new_token


@admin.register(IndicatorTarget)
class IndicatorTargetAdmin(ScopedAdmin):
    list_display = ("unit", "year", "indicator", "value")
    list_filter = ("year", "indicator")
    list_select_related = ("unit",)
    autocomplete_fields = ("unit",)
    search_fields = ("unit__code",)
    normalized_search_fields = ("unit__search_name",)


def _show_token(request: HttpRequest, client: ApiClient, token: str) -> None:
    messages.warning(
        request,
        gettext("Token of %(client)s (copy it now, it is not shown again): %(token)s")
        % {"client": client.name, "token": token},
    )


@admin.register(ApiClient)
class ApiClientAdmin(ScopedAdmin):
    list_display = ("name", "token_hint", "is_active", "created_at", "last_used_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    filter_horizontal = ("units",)
    readonly_fields = ("token_hint", "created_at", "last_used_at")
    fields = ("name", "units", "is_active", "token_hint", "created_at", "last_used_at")
    actions = ("new_token",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        token = None if change else obj.set_token()
        super().save_model(request, obj, form, change)
        if token:
            _show_token(request, obj, token)

    @action(description=_("Give a new token (the old one stops working)"))
    def new_token(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            _show_token(request, client, api_client_new_token(client=client))
