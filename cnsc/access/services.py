from __future__ import annotations

from typing import Any

from cnsc.access.models import AuditEvent, User
from cnsc.core.types import Viewer


def audit_record(
    *,
    user: Viewer | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    rows: int = 0,
    unmasked: bool = False,
) -> AuditEvent:
    """Record an access to personal data. ``detail`` says how (filters, file name), never what."""
    return AuditEvent.objects.create(
        user=user if isinstance(user, User) and user.is_authenticated else None,
        action=action,
        target=target,
        detail=detail or {},
        rows=rows,
        unmasked=unmasked,
    )
