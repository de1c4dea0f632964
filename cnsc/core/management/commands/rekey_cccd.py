"""Move stored CCCD hashes from an old key to the current one (see cnsc/core/identity.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from cnsc.core.identity import CCCD_HOLDERS, current_key_id, key_fingerprint, rehash

BATCH = 2000


class Command(BaseCommand):
    help = (
        "Re-key stored CCCD hashes after CCCD_HASH_KEY was changed. Set CCCD_HASH_KEY to the new "
        "key, run this with --old-key set to the key it replaced: every hash made with the old "
        "key becomes HMAC(new key, old hash). Running it again changes nothing. Then append the "
        "old key to CCCD_HASH_PREVIOUS_KEYS (comma-separated, oldest first), so numbers entered "
        "from now on hash to the same values."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--old-key", required=True, help="The key CCCD_HASH_KEY replaced.")

    def handle(self, *args: Any, old_key: str, **options: Any) -> None:
        new_key = settings.CCCD_HASH_KEY
        if not old_key:
            raise CommandError("--old-key must not be empty")
        if old_key == new_key:
            raise CommandError(
                "--old-key is the current CCCD_HASH_KEY: set CCCD_HASH_KEY to the new key first"
            )
        old_id, new_id = key_fingerprint(old_key), current_key_id()
        total = 0
        # Batch by batch, each in its own transaction: memory stays flat at millions of
        # residents, and a run that is stopped goes on where it stopped (rows already moved
        # carry the new key's id and are not picked again).
        for holder in CCCD_HOLDERS:
            model = holder.model
            pending = model._default_manager.filter(**{holder.key_field: old_id}).exclude(
                **{holder.hash_field: ""}
            )
            moved = 0
            while True:
                with transaction.atomic():
                    rows = list(
                        pending.order_by("pk")
                        .select_for_update(skip_locked=False)
                        .only("pk", holder.hash_field)[:BATCH]
                    )
                    if not rows:
                        break
                    for row in rows:
                        setattr(
                            row,
                            holder.hash_field,
                            rehash(getattr(row, holder.hash_field), key=new_key),
                        )
                        setattr(row, holder.key_field, new_id)
                    model._default_manager.bulk_update(rows, [holder.hash_field, holder.key_field])
                moved += len(rows)
            total += moved
            self.stdout.write(f"{model._meta.label}: {moved} re-keyed")
        self.stdout.write(
            self.style.SUCCESS(
                f"{total} hashes moved to key {new_id}. Now append the old key to "
                "CCCD_HASH_PREVIOUS_KEYS."
            )
        )
