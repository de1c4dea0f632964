from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

# Whoever is asking: a signed-in user or an anonymous visitor (who sees nothing scoped).
Viewer: TypeAlias = AbstractBaseUser | AnonymousUser
