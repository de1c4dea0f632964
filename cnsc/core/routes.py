"""Who may use each route: the default-deny list.

Every route of the URL configuration is listed here with the kinds of caller that may use it;
cnsc/core/tests/test_route_guard.py walks the URL configuration and fails for a route that is not
listed (or an entry that names no route), checks each listed role against what the route really
answers, and checks that a user of another commune is refused every route that names an object
of ours. Add a route here when you add a view, with the narrowest set of callers.

Callers: ``PUBLIC`` (anyone, no sign-in), ``TOKEN`` (an API client's bearer token, scoped to its
units), or back-office roles: superuser and the roles of cnsc.access.roles.Role (named here as
strings: core imports nothing from the apps). Scope (which commune's rows) is checked by the views
themselves; this list says which callers reach a route at all.
"""

from __future__ import annotations

from typing import Any

PUBLIC = frozenset({"public"})
TOKEN = frozenset({"token"})

SUPERUSER = "superuser"
PROVINCE = "province_staff"
COMMUNE = "commune_official"
LEADER = "team_leader"

# A route that answers nobody anything (kept because the framework adds it).
NOBODY: frozenset[str] = frozenset()
SUPERUSERS = frozenset({SUPERUSER})
PROVINCE_UP = frozenset({SUPERUSER, PROVINCE})
OFFICIALS = frozenset({SUPERUSER, PROVINCE, COMMUNE})
COMMUNE_WRITERS = frozenset({SUPERUSER, COMMUNE})
EVERY_ROLE = frozenset({SUPERUSER, PROVINCE, COMMUNE, LEADER})

# Standard admin pages of each registered model (list, add, change, delete, history, one past
# version, and the bare object URL that redirects to change), by who may open its list.
ADMIN_MODELS: dict[str, frozenset[str]] = {
    "geo.adminunit": EVERY_ROLE,
    "geo.hamlet": EVERY_ROLE,
    "access.user": PROVINCE_UP,
    "access.auditevent": PROVINCE_UP,
    "team.team": EVERY_ROLE,
    "team.member": EVERY_ROLE,
    "team.membership": EVERY_ROLE,
    "team.target": OFFICIALS,
    "outreach.household": EVERY_ROLE,
    "outreach.resident": EVERY_ROLE,
    "outreach.visit": EVERY_ROLE,
    "outreach.checkin": EVERY_ROLE,
    "outreach.fieldreport": EVERY_ROLE,
    "training.handbook": EVERY_ROLE,
    "training.course": EVERY_ROLE,
    "training.trainingsession": EVERY_ROLE,
    "training.attendance": OFFICIALS,
    "training.residentattendee": OFFICIALS,
    "dashboard.indicatortarget": OFFICIALS,
    "dashboard.apiclient": SUPERUSERS,
    "bot.telegramaccount": OFFICIALS,
    "bot.botinvitation": OFFICIALS,
    "bot.broadcast": OFFICIALS,
}

# Every other route, by view name (namespace:name), or by its pattern when it has no name.
ROUTES: dict[str, frozenset[str]] = {
    # Operations and language.
    "healthz": PUBLIC,
    "set_language": PUBLIC,
    "home": PUBLIC,  # redirects to the back office, which asks for sign-in
    # Sign-in, two-factor, and the back office's own pages.
    "admin:login": PUBLIC,
    "admin:logout": PUBLIC,
    "access:two_factor": EVERY_ROLE,
    "access:two_factor_setup": EVERY_ROLE,
    "access:recovery_codes": EVERY_ROLE,
    "admin:index": EVERY_ROLE,
    "admin:search": EVERY_ROLE,
    "admin:app_list": EVERY_ROLE,
    "admin:password_change": EVERY_ROLE,
    "admin:password_change_done": EVERY_ROLE,
    "admin:autocomplete": EVERY_ROLE,
    "admin:jsi18n": EVERY_ROLE,
    # No model has a public page (get_absolute_url): 404 for everyone. Should one get one, this
    # test fails and someone decides whether the redirect may reveal another unit's object.
    "admin:view_on_site": NOBODY,
    "admin/(?P<url>.*)$": EVERY_ROLE,  # adds a missing slash, or answers 404
    "admin:auth_user_password_change": PROVINCE_UP,
    # Roster: imports and badges.
    "admin:team_member_roster_import": COMMUNE_WRITERS,
    "admin:team_member_roster_template": EVERY_ROLE,  # the blank spreadsheet
    "badges:member": COMMUNE_WRITERS,
    "badges:team": COMMUNE_WRITERS,
    # Households and residents' rights.
    "outreach:household_import": COMMUNE_WRITERS,
    "outreach:household_template": EVERY_ROLE,  # the blank spreadsheet
    "outreach:household_export": EVERY_ROLE,
    "outreach:resident_rights": EVERY_ROLE,
    "outreach:photo": EVERY_ROLE,
    "outreach:resident_data_export": COMMUNE_WRITERS,
    "outreach:resident_data_erase": COMMUNE_WRITERS,
    # Training: the back office's own pages, and what residents open.
    "admin:training_handbook_preview": EVERY_ROLE,
    "admin:training_handbook_pdf": EVERY_ROLE,
    "admin:training_handbook_new_version": OFFICIALS,
    "admin:training_session_attendance": OFFICIALS,
    "admin:training_session_code": COMMUNE_WRITERS,
    "admin:training_session_issue": COMMUNE_WRITERS,
    "admin:training_session_certificates": OFFICIALS,
    "admin:training_session_export": OFFICIALS,
    "admin:training_attendance_certificate": OFFICIALS,
    "admin:training_attendance_revoke": COMMUNE_WRITERS,
    "training:handbooks": PUBLIC,
    "training:handbook_download": PUBLIC,
    "training:attend": PUBLIC,
    "core:verify_lookup": PUBLIC,
    "core:verify": PUBLIC,
    # Dashboards: team leaders see their own team's page only.
    "dashboard:home": EVERY_ROLE,
    "dashboard:province": PROVINCE_UP,
    "dashboard:commune": OFFICIALS,
    "dashboard:hamlet": OFFICIALS,
    "dashboard:former": OFFICIALS,
    "dashboard:team": EVERY_ROLE,
    "dashboard:export": OFFICIALS,
    "dashboard:report": OFFICIALS,
    # The API for machines, and open data.
    "api:openapi": PUBLIC,
    "api:indicators": TOKEN,
    "api:units": TOKEN,
    "api:values": TOKEN,
    "api:values_csv": TOKEN,
    "api:data_value_sets": TOKEN,
    "api:open": PUBLIC,
    "api:open_csv": PUBLIC,
    "api:open_json": PUBLIC,
    "api:open_csv_metadata": PUBLIC,
    "api:open_json_metadata": PUBLIC,
    # Uploaded files, served by Django in development only (DEBUG); production serves none.
    "^media/(?P<path>.*)$": PUBLIC,
}


# Routes that exist only with DEBUG on (development).
DEBUG_ONLY = frozenset({"^media/(?P<path>.*)$"})


def route_key(match: Any) -> str:
    """The key of a resolved route in ROUTES: its view name, or its pattern when unnamed."""
    return match.view_name if match.url_name else match.route


def is_public(match: Any) -> bool:
    return ROUTES.get(route_key(match)) == PUBLIC
