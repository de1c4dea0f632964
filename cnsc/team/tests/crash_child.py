"""Child process of the roster crash test (run with ``python -m``; the environment names the
database): ``setup`` makes the commune's hamlets and the importing official."""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from cnsc.access.roles import Role  # noqa: E402
from cnsc.core.testing import HOME_COMMUNE, make_user, unit  # noqa: E402
from cnsc.geo.models import Hamlet, HamletKind  # noqa: E402

HAMLETS = 5

if __name__ == "__main__":
    commune = unit(HOME_COMMUNE)
    make_user("importer", Role.COMMUNE_OFFICIAL, (commune,))
    for number in range(1, HAMLETS + 1):
        Hamlet.objects.create(commune=commune, name=f"Khu phố {number}", kind=HamletKind.QUARTER)
    sys.stdout.write("ready\n")
