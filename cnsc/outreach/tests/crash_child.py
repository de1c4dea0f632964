"""Child processes of the outreach crash tests (run with ``python -m``; the environment names the
database): ``setup`` makes the commune's hamlets, a team and the importing official;
``visits FIRST LAST`` records visits FIRST..LAST through the visit service as a field client
replaying its queue would, one key per visit, printing each key once stored."""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import datetime as dt  # noqa: E402

from django.utils import timezone  # noqa: E402

from cnsc.access.roles import Role  # noqa: E402
from cnsc.core.testing import HOME_COMMUNE, make_user, unit  # noqa: E402
from cnsc.geo.models import Hamlet, HamletKind  # noqa: E402
from cnsc.outreach.catalogue import Result, Service, State  # noqa: E402
from cnsc.outreach.models import Household, Relation, VisitSource  # noqa: E402
from cnsc.outreach.services import (  # noqa: E402
    OutcomeIn,
    household_create,
    resident_create,
    visit_record,
)
from cnsc.team.models import Member, Team  # noqa: E402
from cnsc.team.tests.factories import enrol, make_team  # noqa: E402

HAMLETS = 5
PHOTO = os.environ.get("CRASH_PHOTO", "")


def setup(households: int) -> None:
    commune = unit(HOME_COMMUNE)
    make_user("importer", Role.COMMUNE_OFFICIAL, (commune,))
    for number in range(1, HAMLETS + 1):
        hamlet = Hamlet.objects.create(
            commune=commune, name=f"Khu phố {number}", kind=HamletKind.QUARTER
        )
        team = make_team(hamlet, code=f"KP{number}")
        if number == 1:
            enrol(team, full_name="Phạm Thị Hoa", sex="female", birth_year=1995)
            for house in range(households):
                household = household_create(hamlet=hamlet, team=team, house_number=str(house))
                resident_create(
                    household=household,
                    full_name=f"Chủ hộ {house}",
                    relation_to_head=Relation.HEAD,
                    birth_year=1970,
                )
    sys.stdout.write("ready\n")


def visits(first: int, last: int) -> None:
    member = Member.objects.get(full_name="Phạm Thị Hoa")
    team = Team.objects.get(code="KP1")
    photo = open(PHOTO, "rb").read() if PHOTO else None  # noqa: SIM115
    households = list(Household.objects.filter(team=team).order_by("house_number"))
    households.sort(key=lambda h: int(h.house_number))
    when = timezone.now() - dt.timedelta(hours=1)
    for n in range(first, last + 1):
        household = households[n % len(households)]
        head = household.residents.get()
        _visit, created = visit_record(
            member=member,
            household=household,
            happened_at=when + dt.timedelta(seconds=n),
            outcomes=[
                OutcomeIn(
                    resident=head,
                    service=Service.VNEID,
                    result=Result.DONE,
                    new_state=State.LEVEL2,
                    allow_backward=True,
                )
            ],
            idempotency_key=f"field:{n}",
            source=VisitSource.BOT,
            point=(10.98, 106.65),
            photos=[photo] if photo else [],
        )
        sys.stdout.write(f"stored {n} {'new' if created else 'again'}\n")


if __name__ == "__main__":
    action = sys.argv[1]
    if action == "setup":
        setup(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    elif action == "visits":
        visits(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(f"unknown action {action}")
