from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cnsc.dashboard.services import api_client_create
from cnsc.dashboard.units import resolve


class Command(BaseCommand):
    help = (
        "Create an API client for the given current provinces or communes and print its token "
        "(shown this once). Example: api_client_create 'IOC Hồ Chí Minh' 79"
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("units", nargs="+", help="official codes: 79, 25747")

    def handle(self, *args: Any, name: str, units: list[str], **options: Any) -> None:
        refs = [resolve(code) for code in units]
        if any(r is None or r.type not in ("province", "commune") for r in refs):
            raise CommandError("Give the official codes of current provinces or communes.")
        _client, token = api_client_create(name=name, unit_ids=[r.id for r in refs if r])
        self.stdout.write(f"API client {name!r} created. Its token (shown only now):")
        self.stdout.write(token)
