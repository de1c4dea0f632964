from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cnsc.access.demo import DEMO_PASSWORD, demo_accounts_ensure
from cnsc.geo.models import AdminUnit
from cnsc.outreach.demo import seed_outreach
from cnsc.team.demo import seed_binh_duong


class Command(BaseCommand):
    help = (
        "Build the demo data set (Bình Dương as a 2023 report describes it) and one account per "
        "role. Deterministic and idempotent: a second run changes nothing. Refused in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if not AdminUnit.objects.exists():
            raise CommandError("Load the administrative units first: manage.py load_units")
        from django.conf import settings

        if not settings.DEMO_ACCOUNTS:
            raise CommandError("seed_demo is refused in production (CNSC_ENV=production).")
        accounts = demo_accounts_ensure()
        # After the accounts: the demo team leader account is linked to a team leader's record.
        self.stdout.write(str(seed_binh_duong()))
        # After the roster: households are covered by its teams and visited by its members.
        self.stdout.write(str(seed_outreach()))
        self.stdout.write(f"demo data ready ({time.perf_counter() - started:.1f}s)")
        self.stdout.write("Demo accounts (development only) at http://127.0.0.1:8000/admin/ :")
        for spec, _created in accounts:
            what = "superuser" if spec.superuser else spec.role
            if spec.read_only:
                what += ", read-only"
            self.stdout.write(f"  {spec.username:<10} / {DEMO_PASSWORD}   ({what})")
