"""System checks of a production configuration (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

SHARED_CACHES = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
)


@register(Tags.security, deploy=True)
def rate_limits_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Rate limits (verify page, API, attendance) count in the default cache: one in a process's
    memory gives each web worker its own allowance, so the limits multiply."""
    if settings.CACHES["default"]["BACKEND"] in SHARED_CACHES:
        return []
    return [
        Warning(
            "Rate limits are counted per process: the cache is not shared.",
            hint="Set REDIS_URL (redis://host:6379/0) so every web worker counts together.",
            id="cnsc.W001",
        )
    ]
