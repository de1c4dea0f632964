"""What each role may do: the one place where roles become Django permissions.

Which rows a user may touch is decided by scope (cnsc.access.scope); this decides which actions.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PROVINCE_STAFF = "province_staff", _("Province staff")
    COMMUNE_OFFICIAL = "commune_official", _("Commune official")
    TEAM_LEADER = "team_leader", _("Team leader")


def _crud(model: str, *actions: str) -> set[str]:
    app, name = model.split(".")
    return {f"{app}.{action}_{name}" for action in actions}


_READ_UNITS = _crud("geo.adminunit", "view") | _crud("geo.unitmapping", "view")
_READ_ROSTER = (
    _crud("team.team", "view") | _crud("team.member", "view") | _crud("team.membership", "view")
)
# Memberships are ended, not deleted; teams are dissolved, not deleted. Nobody gets
# team.view_personal_data by role: it is granted to a person, deliberately.
_MANAGE_ROSTER = (
    _crud("team.team", "view", "add", "change")
    | _crud("team.member", "view", "add", "change")
    | _crud("team.membership", "view", "add", "change")
    | _crud("team.target", "view")
)

_OUTREACH_MODELS = (
    "household",
    "resident",
    "residentmove",
    "servicestate",
    "serviceevent",
    "visit",
    "visitphoto",
    "visitoutcome",
    "checkin",
    "fieldreport",
)
_READ_OUTREACH = {perm for name in _OUTREACH_MODELS for perm in _crud(f"outreach.{name}", "view")}
# Visits, check-ins and service states are written by members through the bot (and officials
# through services), never edited in the back office; residents are erased, not deleted.
_MANAGE_OUTREACH = (
    _READ_OUTREACH
    | _crud("outreach.household", "add", "change")
    | _crud("outreach.resident", "add", "change")
    | _crud("outreach.fieldreport", "change")
)

_TRAINING_MODELS = (
    "handbook",
    "handbookblock",
    "course",
    "trainingsession",
    "attendance",
    "residentattendee",
)
_READ_TRAINING = {perm for name in _TRAINING_MODELS for perm in _crud(f"training.{name}", "view")}
# Handbooks and courses are retired or left unused, not deleted; a handbook's blocks are.
_WRITE_TRAINING_LIBRARY = (
    _crud("training.handbook", "add", "change")
    | _crud("training.handbookblock", "add", "change", "delete")
    | _crud("training.course", "add", "change")
)
# Attendance is taken on a session's page and residents are listed there (with their consent).
_RUN_TRAINING_SESSIONS = (
    _crud("training.trainingsession", "add", "change")
    | _crud("training.attendance", "add", "change", "delete")
    | _crud("training.residentattendee", "change")
)

_READ_BOT = (
    _crud("bot.telegramaccount", "view")
    | _crud("bot.botinvitation", "view")
    | _crud("bot.broadcast", "view")
    | _crud("bot.broadcastdelivery", "view")
)
# Officials invite members to the bot, unlink a lost phone, and send notices; notices are never
# changed or deleted once sent.
_MANAGE_BOT = (
    _READ_BOT
    | _crud("bot.botinvitation", "add")
    | _crud("bot.telegramaccount", "delete")
    | _crud("bot.broadcast", "add")
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.PROVINCE_STAFF: frozenset(
        _READ_UNITS
        | _crud("geo.hamlet", "view", "add", "change")
        | _crud("access.user", "view", "add", "change")
        | _crud("access.unitassignment", "view", "add", "change", "delete")
        | _crud("access.auditevent", "view")
        | _READ_ROSTER
        | _crud("team.target", "view", "add", "change", "delete")
        | _READ_OUTREACH
        | _READ_TRAINING
        | _WRITE_TRAINING_LIBRARY
        | _READ_BOT
        | _crud("dashboard.indicatortarget", "view", "add", "change", "delete")
    ),
    Role.COMMUNE_OFFICIAL: frozenset(
        _READ_UNITS
        | _crud("geo.hamlet", "view", "add", "change")
        | _MANAGE_ROSTER
        | _MANAGE_OUTREACH
        | _READ_TRAINING
        | _WRITE_TRAINING_LIBRARY
        | _RUN_TRAINING_SESSIONS
        | _MANAGE_BOT
        | _crud("dashboard.indicatortarget", "view")
    ),
    Role.TEAM_LEADER: frozenset(
        _READ_UNITS
        | _crud("geo.hamlet", "view")
        | _READ_ROSTER
        | _READ_OUTREACH
        | _crud("training.handbook", "view")
        | _crud("training.course", "view")
        | _crud("training.trainingsession", "view")
    ),
}

WRITE_ACTIONS = ("add_", "change_", "delete_")

# Given to a person, never by role: seeing others' personal data unmasked in exports. A superuser
# grants them on the user's page; any other permission a user row may hold is ignored.
PERSONAL_GRANTS = frozenset({"team.view_personal_data", "outreach.view_personal_data"})


def permissions_for(*, role: str, read_only: bool) -> frozenset[str]:
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    if read_only:
        return frozenset(p for p in perms if not p.split(".", 1)[1].startswith(WRITE_ACTIONS))
    return perms
