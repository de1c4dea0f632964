"""Check-in: the member shares their location (once, or live) and is checked in at the nearest
hamlet of their team, through the outreach service."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cnsc.geo.models import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON
from cnsc.outreach.models import CheckInWarning
from cnsc.outreach.services import checkin_record

from ..dialog import Turn
from ..selectors import nearest_hamlet

# Farther than this from every hamlet of the team is not a check-in: a point in the sea, another
# province, or a phone's location gone wrong.
REFUSE_BEYOND_M = 50_000


def ask(turn: Turn) -> None:
    turn.say(
        _("Share your location with the button below (or attach it: 📎 → Location)."),
        request="location",
    )


def outside_text() -> str:
    return _(
        "This location is not in Vietnam near your team's hamlets (it may be in the sea or "
        "abroad). Turn on GPS and share your location again from where you are."
    )


def _warnings_text(codes: list[str], distance: int | None) -> list[str]:
    lines = []
    if CheckInWarning.FAR in codes and distance is not None:
        lines.append(
            _("⚠ You are %(km).1f km from the hamlet's centre (more than %(max).1f km).")
            % {"km": distance / 1000, "max": settings.CHECKIN_MAX_DISTANCE_M / 1000}
        )
    if CheckInWarning.INACCURATE in codes:
        lines.append(_("⚠ Your phone's location is not precise: turn on GPS if you can."))
    if CheckInWarning.NO_CENTRE in codes:
        lines.append(_("The hamlet has no centre point yet, so the distance was not checked."))
    return lines


def record(turn: Turn) -> None:
    assert turn.actor is not None
    assert turn.actor.team is not None
    location = turn.event.location
    assert location is not None
    lat, lon = location.latitude, location.longitude
    if not (MIN_LAT <= lat <= MAX_LAT and MIN_LON <= lon <= MAX_LON):
        turn.say(outside_text(), request="remove")
        return
    hamlet, distance = nearest_hamlet(team=turn.actor.team, latitude=lat, longitude=lon)
    if hamlet is None:
        turn.say(_("Your team has no hamlet to check in at. Ask your commune official."))
        return
    if distance is not None and distance > REFUSE_BEYOND_M:
        turn.say(outside_text(), request="remove")
        return
    try:
        checkin, _created = checkin_record(
            member=turn.actor.member,
            hamlet=hamlet,
            at=turn.event.sent_at,
            idempotency_key=turn.event.origin,
            point=(lat, lon),
            accuracy_m=location.accuracy_m,
        )
    except ValidationError as exc:
        turn.say(" ".join(exc.messages), request="remove")
        return
    lines = [_("✅ Checked in at %(hamlet)s.") % {"hamlet": hamlet.name}]
    if location.live:
        lines.append(_("(Live location received: the check-in uses its first point.)"))
    lines += _warnings_text(list(checkin.warnings), checkin.distance_m)
    turn.say("\n".join(lines), request="remove")
