from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from cnsc.access.models import AuditEvent, UnitAssignment, User
from cnsc.core.admin import ScopedAdmin

# Permissions come from roles (cnsc/access/roles.py), not from groups.
admin.site.unregister(Group)


class UnitAssignmentInline(TabularInline):
    model = UnitAssignment
    extra = 1
    fields = ("unit", "assigned_at")
    readonly_fields = ("assigned_at",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "unit":
            from cnsc.geo.models import AdminUnit, Hierarchy

            kwargs["queryset"] = AdminUnit.objects.visible_to(request.user).filter(
                hierarchy=Hierarchy.CURRENT
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(User)
class UserAdmin(ScopedAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "role", "read_only", "is_active", "last_login")
    list_filter = ("role", "read_only", "is_active")
    search_fields = ("username", "first_name", "last_name")
    inlines = (UnitAssignmentInline,)
    add_fieldsets = ((None, {"fields": ("username", "role", "password1", "password2")}),)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        fieldsets: list[Any] = [
            (None, {"fields": ("username", "password")}),
            (_("Person"), {"fields": ("first_name", "last_name", "email", "phone")}),
            (_("Access"), {"fields": ("role", "read_only", "is_active")}),
            (_("Dates"), {"fields": ("last_login", "date_joined")}),
        ]
        if request.user.is_superuser:
            fieldsets[2] = (
                _("Access"),
                {"fields": ("role", "read_only", "is_active", "is_superuser")},
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("last_login", "date_joined")


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    """Append-only: nobody adds, changes or deletes an audit event through the back office."""

    list_display = ("at", "user", "action", "target", "rows", "unmasked")
    list_filter = ("action", "unmasked")
    list_select_related = ("user",)
    date_hierarchy = "at"
    readonly_fields = ("at", "user", "action", "target", "detail", "rows", "unmasked")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
