"""Demo accounts, one per role, for development and demonstrations only."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from cnsc.access.models import UnitAssignment, User
from cnsc.access.roles import Role
from cnsc.geo.models import AdminUnit, Hierarchy, Level

# Hồ Chí Minh City, and Phường Thủ Dầu Một on Bình Dương's former land (where the demo teams are).
DEMO_PROVINCE = "79"
DEMO_COMMUNE = "25747"
DEMO_PASSWORD = "cnsc-demo-2026"  # noqa: S105 (printed on purpose; refused in production)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    unit_code: str | None
    read_only: bool = False
    superuser: bool = False


DEMO_ACCOUNTS = (
    DemoAccount("admin", "", None, superuser=True),
    DemoAccount("tinh", Role.PROVINCE_STAFF, DEMO_PROVINCE),
    DemoAccount("tinh_xem", Role.PROVINCE_STAFF, DEMO_PROVINCE, read_only=True),
    DemoAccount("xa", Role.COMMUNE_OFFICIAL, DEMO_COMMUNE),
    DemoAccount("totruong", Role.TEAM_LEADER, DEMO_COMMUNE),
)


@transaction.atomic
def demo_accounts_ensure() -> list[tuple[DemoAccount, bool]]:
    """Create the demo accounts that are missing; leave existing ones as they are."""
    if not settings.DEMO_ACCOUNTS:
        raise ImproperlyConfigured(
            "Demo accounts are disabled (production, or CNSC_DEMO_ACCOUNTS=false)"
        )
    out = []
    for spec in DEMO_ACCOUNTS:
        user = User.objects.filter(username=spec.username).first()
        created = user is None
        if user is None:
            user = User(
                username=spec.username,
                role=spec.role,
                read_only=spec.read_only,
                is_superuser=spec.superuser,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
        if spec.unit_code and not user.assignments.exists():
            level = Level.PROVINCE if len(spec.unit_code) == 2 else Level.COMMUNE
            unit = AdminUnit.objects.get(
                hierarchy=Hierarchy.CURRENT, level=level, code=spec.unit_code
            )
            UnitAssignment.objects.create(user=user, unit=unit)
        out.append((spec, created))
    return out
