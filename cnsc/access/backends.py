from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from cnsc.access.roles import PERSONAL_GRANTS, permissions_for


class RoleBackend(ModelBackend):
    """Username/password sign-in; permissions come from the user's role, not from groups, plus
    the personal grants (PERSONAL_GRANTS) a superuser gave the user."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        granted = self.get_user_permissions(user_obj) & PERSONAL_GRANTS
        return set(permissions_for(role=user_obj.role, read_only=user_obj.read_only)) | granted

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))
