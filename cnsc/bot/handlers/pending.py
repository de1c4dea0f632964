"""Photos a member sent in the middle of a flow, kept until the flow is confirmed. They wait in
storage under a random name (the conversation state holds only the name); the outreach service
re-encodes them when the visit or report is stored, and the waiting copy is then removed.
Copies of flows never finished are removed by ``pending_prune``."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from cnsc.core.codes import random_code

FOLDER = "bot-pending"


def keep(content: bytes) -> str:
    return default_storage.save(f"{FOLDER}/{random_code(24)}.img", ContentFile(content))


def read(name: str) -> bytes | None:
    if not name or not name.startswith(f"{FOLDER}/") or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as stream:
        data: bytes = stream.read()
    return data


def drop(name: str) -> None:
    if name and name.startswith(f"{FOLDER}/"):
        default_storage.delete(name)


def pending_prune(*, older_than: dt.timedelta) -> int:
    """Remove waiting photos older than ``older_than``; the number removed."""
    try:
        _dirs, files = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    for file_name in files:
        name = f"{FOLDER}/{file_name}"
        if default_storage.get_modified_time(name) < cutoff:
            default_storage.delete(name)
            removed += 1
    return removed
