"""Uploaded files kept between a preview and its confirmation.

An import is checked first and applied only when the official confirms; the file waits in
between under a random name outside the media folder (it holds personal data and must never be
served), named by a signed token that expires. Files of abandoned previews are removed once they
can no longer be applied.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied

MAX_AGE = 3600  # seconds between the preview and the confirmation
_SUFFIX = ".upload"


def _folder() -> Path:
    path = Path(settings.VAR_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keep_upload(upload: Any, *, salt: str, user_id: int, **data: Any) -> str:
    """Store ``upload`` until it is confirmed; a signed token naming it, the user and ``data``
    (nothing personal: ids and the file's name)."""
    folder = _folder()
    cutoff = time.time() - MAX_AGE
    for old in folder.glob(f"*{_SUFFIX}"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    name = f"{secrets.token_urlsafe(24)}{_SUFFIX}"
    with (folder / name).open("wb") as out:
        upload.seek(0)
        for chunk in upload.chunks():
            out.write(chunk)
    return signing.dumps({"file": name, "user": user_id, **data}, salt=salt)


def open_kept(token: str, *, salt: str, user_id: int) -> tuple[Path, dict[str, Any]]:
    """The kept file and its data; PermissionDenied for a forged, expired or someone else's
    token, or a file already used."""
    try:
        kept = signing.loads(token, salt=salt, max_age=MAX_AGE)
    except signing.BadSignature:
        raise PermissionDenied from None
    path = _folder() / str(kept.get("file", ""))
    if kept.get("user") != user_id or path.parent != _folder() or not path.is_file():
        raise PermissionDenied
    return path, kept


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)
