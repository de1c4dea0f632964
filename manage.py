#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (read the settings: a bad value stops here)
    except ImproperlyConfigured as exc:
        # An operator's mistake, not a bug: one line naming the setting, not a traceback.
        sys.exit(f"ImproperlyConfigured: {exc}")
    execute_from_command_line(sys.argv)
