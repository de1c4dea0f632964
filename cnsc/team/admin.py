from __future__ import annotations

from django.contrib import admin

from cnsc.core.admin import ScopedAdmin
from cnsc.geo.admin import commune_filter
from cnsc.team.models import Member, Membership, Target, Team


@admin.register(Team)
class TeamAdmin(ScopedAdmin):
    list_display = ("name", "code", "kind", "commune", "hamlet", "status", "status_since")
    list_filter = (commune_filter(), "status", "kind")
    list_select_related = ("commune", "hamlet")
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)


@admin.register(Member)
class MemberAdmin(ScopedAdmin):
    list_display = ("full_name", "commune", "organisation")
    list_filter = (commune_filter(), "organisation")
    list_select_related = ("commune",)
    normalized_search_fields = ("search_name",)
    exclude = ("cccd_last4",)


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    list_display = ("member", "team", "role", "joined_on", "left_on")
    list_filter = ("role",)
    list_select_related = ("member", "team")


@admin.register(Target)
class TargetAdmin(ScopedAdmin):
    list_display = ("unit", "year", "members", "teams")
    list_filter = ("year",)
