from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import TabularInline
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from cnsc.access.models import AuditEvent, UnitAssignment, User
from cnsc.access.roles import PERSONAL_GRANTS
from cnsc.access.services import second_factor_reset
from cnsc.core.admin import ScopedAdmin

# Permissions come from roles (cnsc/access/roles.py), not from groups.
admin.site.unregister(Group)
# django-otp's own pages list every device of every user, unscoped and outside the theme:
# authenticators are reset from the user list instead (an action, scoped like the list).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


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
    list_display = ("username", "role", "read_only", "is_active", "two_factor", "last_login")
    list_filter = ("role", "read_only", "is_active")
    search_fields = ("username", "first_name", "last_name")
    inlines = (UnitAssignmentInline,)
    add_fieldsets = ((None, {"fields": ("username", "role", "password1", "password2")}),)
    actions = ("reset_second_factor", "unlock_sign_in")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        authenticators = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(has_authenticator=Exists(authenticators))

    @display(description=_("two-factor"), boolean=True)
    def two_factor(self, obj: Any) -> bool:
        return bool(obj.has_authenticator)

    @admin.action(description=_("Reset two-factor sign-in (lost phone)"), permissions=["change"])
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = sum(1 for user in queryset if second_factor_reset(user=user, by=request.user))
        self.message_user(
            request,
            ngettext(
                "Two-factor sign-in reset for %(count)d user: they set it up again at their "
                "next sign-in.",
                "Two-factor sign-in reset for %(count)d users: they set it up again at their "
                "next sign-in.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Unlock sign-in after too many wrong passwords"), permissions=["change"]
    )
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Only by username: a reset without one would unlock every account.
        unlocked = sum(
            1 for user in queryset if user.username and axes_reset(username=user.username)
        )
        self.message_user(
            request,
            ngettext(
                "Sign-in unlocked for %(count)d user.",
                "Sign-in unlocked for %(count)d users.",
                unlocked,
            )
            % {"count": unlocked},
            messages.SUCCESS,
        )

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
                {
                    "fields": (
                        "role",
                        "read_only",
                        "is_active",
                        "is_superuser",
                        "user_permissions",
                    )
                },
            )
        return fieldsets

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user_permissions":
            # Only the grants a person may be given (see PERSONAL_GRANTS): everything else
            # comes from the role.
            wanted = Q()
            for perm in PERSONAL_GRANTS:
                app_label, codename = perm.split(".")
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            kwargs["queryset"] = Permission.objects.filter(wanted)
            kwargs["help_text"] = _(
                "Exports made by this user show personal data (phone numbers, e-mail "
                "addresses) in full."
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

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
