"""Default deny, checked against the URL configuration itself.

Every route (views, back-office pages of every registered model, the API) must be listed in
cnsc/core/routes.py with the callers that may use it. Then, on a small world of real objects of
Phường Thủ Dầu Một:
- each role reaches exactly the routes listed for it (and anonymous visitors the public ones);
- a user of another commune (or another province) gets 404 for every route that names one of
  our objects (an API client of another province is refused), and the refusal is logged; our
  objects are missing from their lists;
- a user of each role assigned to no unit is refused every such route too, and every list they
  may open is empty of our rows;
- nobody signed in reaches anything before the second factor, when they owe one.

A route added without an entry here fails the first test. A route that names an object needs a
sample address in SAMPLES below, built from the world, or the checks fail asking for one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from cnsc.access.models import AuditAction, AuditEvent
from cnsc.access.roles import Role
from cnsc.access.services import audit_record
from cnsc.core.routes import (
    ADMIN_MODELS,
    COMMUNE,
    DEBUG_ONLY,
    LEADER,
    PROVINCE,
    PUBLIC,
    ROUTES,
    SUPERUSER,
    TOKEN,
)
from cnsc.core.testing import client_for, make_user, unit
from cnsc.geo.models import Hamlet, HamletKind, Level

ROLES = (SUPERUSER, PROVINCE, COMMUNE, LEADER)
ADMIN_PAGES = ("changelist", "add", "history", "delete", "change", "simple_history")
OBJECT_PAGES = ("history", "delete", "change", "simple_history", "redirect")


# --- The routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str | None
    admin_model: str | None = None  # "app_label.model_name" for a model's standard admin pages
    admin_page: str | None = None  # changelist, add, ..., redirect

    @property
    def key(self) -> str:
        return self.name or self.pattern

    @property
    def takes_arguments(self) -> bool:
        return "<" in self.pattern or "(" in self.pattern


def _admin_pages() -> dict[str, tuple[str, str]]:
    """Standard page names (and bare object patterns) of every registered model."""
    pages: dict[str, tuple[str, str]] = {}
    for model in admin.site._registry:
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        for page in ADMIN_PAGES:
            pages[f"admin:{info}_{page}"] = (label, page)
        path = f"admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/"
        pages[path] = (label, "redirect")
    return pages


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> list[Route]:
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            assert isinstance(entry, URLPattern)
            name = f"{namespace}{entry.name}" if entry.name else None
            found.append(Route(prefix + str(entry.pattern), name))
    return found


def all_routes() -> list[Route]:
    pages = _admin_pages()
    routes = []
    for route in _walk(get_resolver().url_patterns):
        if route.key in pages:
            model, page = pages[route.key]
            route = Route(route.pattern, route.name, model, page)
        routes.append(route)
    return routes


def allowed(route: Route) -> frozenset[str] | None:
    if route.admin_model:
        return ADMIN_MODELS.get(route.admin_model)
    return ROUTES.get(route.key)


def test_every_route_is_listed_with_who_may_use_it():
    routes = all_routes()
    unlisted = sorted(r.key for r in routes if allowed(r) is None)
    assert not unlisted, (
        "routes missing from cnsc/core/routes.py (add each with the callers that may use it): "
        + ", ".join(unlisted)
    )
    keys = {r.key for r in routes}
    models = {r.admin_model for r in routes if r.admin_model}
    stale = sorted(k for k in ROUTES if k not in keys and k not in DEBUG_ONLY)
    stale += sorted(
        m for m in ADMIN_MODELS if m not in models and apps.is_installed_label(m.split(".")[0])
    )
    assert not stale, "entries in cnsc/core/routes.py that name no route: " + ", ".join(stale)


def test_role_names_are_the_roles_of_the_app():
    assert {PROVINCE, COMMUNE, LEADER} == set(Role.values)


# --- The world ----------------------------------------------------------------------------------


@dataclass
class World:
    objects: dict[str, Any] = field(default_factory=dict)  # by "app_label.model_name"
    users: dict[str, Any] = field(default_factory=dict)
    outsiders: dict[str, list[Any]] = field(default_factory=dict)  # by role
    extra: SimpleNamespace = field(default_factory=SimpleNamespace)


def build_world(settings: Any, tmp_path: Any) -> World:
    from cnsc.bot.models import LinkMethod, TelegramAccount
    from cnsc.bot.services import broadcast_create, invitation_create
    from cnsc.core.models import CredentialKind
    from cnsc.core.services import credential_issue
    from cnsc.dashboard.models import IndicatorTarget
    from cnsc.dashboard.services import api_client_create
    from cnsc.outreach.models import ReportCategory
    from cnsc.outreach.services import checkin_record, field_report_create
    from cnsc.outreach.tests.factories import image_bytes, make_head, make_household, record
    from cnsc.team.models import MemberRole, Target
    from cnsc.team.tests.factories import enrol, make_team
    from cnsc.training.certificates import certificate_issue
    from cnsc.training.models import Audience, BlockKind, Topic
    from cnsc.training.services import (
        attendance_add_resident,
        attendance_code,
        attendance_record,
        handbook_block_add,
        handbook_create,
        handbook_publish,
    )
    from cnsc.training.tests.factories import make_course, make_session

    settings.MEDIA_ROOT = tmp_path / "media"
    home, neighbour, elsewhere = unit("25747"), unit("25750"), unit("00004")
    province, other_province = unit("79", Level.PROVINCE), unit("01", Level.PROVINCE)
    w = World()
    superuser = make_user("root", is_superuser=True)
    official = make_user("official", Role.COMMUNE_OFFICIAL, (home,))
    staff = make_user("province", Role.PROVINCE_STAFF, (province,))
    leader = make_user("leader", Role.TEAM_LEADER, (home,))
    w.users = {SUPERUSER: superuser, PROVINCE: staff, COMMUNE: official, LEADER: leader}

    hamlet = Hamlet.objects.create(commune=home, name="Khu phố 1", kind=HamletKind.QUARTER)
    team = make_team(hamlet, code="KP1")
    leading = enrol(team, role=MemberRole.LEADER, full_name="Tổ Trưởng", user=leader)
    membership = enrol(team, full_name="Phạm Thị Hoa", sex="female", birth_year=1995)
    member = membership.member
    household = make_household(team, house_number="12", street="Đường Yersin")
    resident = make_head(household, full_name="Nguyễn Văn Tư")
    visit = record(leading.member, household, photos=[image_bytes("PNG")])
    checkin, _created = checkin_record(
        member=leading.member, hamlet=hamlet, at=timezone.now(), idempotency_key="guard:1"
    )
    report, _created = field_report_create(
        reporter=leading.member,
        category=ReportCategory.CONNECTIVITY,
        text="Sóng yếu ở cuối hẻm.",
        idempotency_key="guard:2",
        hamlet=hamlet,
    )

    handbook = handbook_create(
        unit=home, title="Cẩm nang của phường", topic=Topic.VNEID, audience=Audience.RESIDENTS
    )
    handbook_block_add(handbook=handbook, kind=BlockKind.PARAGRAPH, text="Mở VNeID mức 2.")
    handbook = handbook_publish(handbook=handbook)
    course = make_course(home)
    session = make_session(course, home)
    attendance = attendance_add_resident(
        session=session, full_name="Đỗ Thị Thu", birth_year=1970, consent_given=True
    )
    attendance = attendance_record(attendance=attendance, attended=True)
    certificate_issue(attendance=attendance)

    account = TelegramAccount.objects.create(
        member=member, telegram_user_id=4242, chat_id=4242, linked_by=LinkMethod.INVITATION
    )
    invitation, _token = invitation_create(member=leading.member, by=official)
    broadcast = broadcast_create(commune=home, text="Họp tổ lúc 8 giờ.", teams=[team], by=official)
    target = Target.objects.create(unit=home, year=2026, members=10, teams=2)
    indicator_target = IndicatorTarget.objects.create(
        indicator="vneid_level2", unit=home, year=2026, value=80
    )
    api_client, token = api_client_create(name="IOC", unit_ids=[province.id])
    event = audit_record(user=official, action=AuditAction.EXPORT, target="team.member")

    w.objects = {
        "geo.adminunit": home,
        "geo.hamlet": hamlet,
        "access.user": official,
        "access.auditevent": event,
        "team.team": team,
        "team.member": member,
        "team.membership": membership,
        "team.target": target,
        "outreach.household": household,
        "outreach.resident": resident,
        "outreach.visit": visit,
        "outreach.checkin": checkin,
        "outreach.fieldreport": report,
        "training.handbook": handbook,
        "training.course": course,
        "training.trainingsession": session,
        "training.attendance": attendance,
        "training.residentattendee": attendance.resident,
        "dashboard.indicatortarget": indicator_target,
        "dashboard.apiclient": api_client,
        "bot.telegramaccount": account,
        "bot.botinvitation": invitation,
        "bot.broadcast": broadcast,
    }

    # Outsiders: the same roles one commune (or one province) away.
    near_hamlet = Hamlet.objects.create(commune=neighbour, name="Khu phố 9", kind="quarter")
    near_leader = make_user("near-leader", Role.TEAM_LEADER, (neighbour,))
    enrol(make_team(near_hamlet, code="KP9"), role=MemberRole.LEADER, user=near_leader)
    w.outsiders = {
        COMMUNE: [
            make_user("outsider", Role.COMMUNE_OFFICIAL, (elsewhere,)),
            make_user("neighbour", Role.COMMUNE_OFFICIAL, (neighbour,)),
        ],
        PROVINCE: [make_user("other-province", Role.PROVINCE_STAFF, (other_province,))],
        LEADER: [near_leader],
    }
    _outsider_client, outsider_token = api_client_create(
        name="Hà Nội", unit_ids=[other_province.id]
    )

    badge = credential_issue(
        kind=CredentialKind.BADGE,
        holder_name="Phạm Thị Hoa",
        title="Tổ viên",
        issuer="Phường Thủ Dầu Một",
        valid_until=timezone.localdate() + dt.timedelta(days=365),
        subject=hamlet,
    )
    w.extra = SimpleNamespace(
        badge=badge.code,
        token=token,
        outsider_token=outsider_token,
        attend_code=attendance_code(session=session),
        leader_member=leading.member,
        home=home,
        photo=visit.photos.get().file.name,
    )
    return w


def _version(obj: Any) -> str:
    history = getattr(obj, "history", None)
    version = history.first() if history is not None else None
    return str(version.history_id) if version is not None else "1"


def admin_url(route: Route, w: World) -> str:
    obj = w.objects[route.admin_model]  # type: ignore[index]
    info = route.admin_model.replace(".", "_")  # type: ignore[union-attr]
    if route.admin_page in ("changelist", "add"):
        return reverse(f"admin:{info}_{route.admin_page}")
    if route.admin_page == "redirect":
        return reverse(f"admin:{info}_change", args=[obj.pk]).removesuffix("change/")
    if route.admin_page == "simple_history":
        return reverse(f"admin:{info}_simple_history", args=[obj.pk, _version(obj)])
    return reverse(f"admin:{info}_{route.admin_page}", args=[obj.pk])


def _api(name: str, **query: str) -> Callable[[World], str]:
    return lambda w: reverse(name) + "?" + urlencode(query)


MEDIA_SAMPLE = "/media/route-guard/public.txt"
# Addresses for the routes that are not standard admin pages: a GET unless marked POST. Those
# naming one of our objects are checked against outsiders.
Sample = Callable[[World], str]
SAMPLES: dict[str, Sample] = {
    "healthz": lambda w: reverse("healthz"),
    "set_language": lambda w: reverse("set_language"),
    "home": lambda w: "/",
    "admin:login": lambda w: reverse("admin:login"),
    "admin:logout": lambda w: reverse("admin:logout"),
    "access:two_factor": lambda w: reverse("access:two_factor"),
    "access:two_factor_setup": lambda w: reverse("access:two_factor_setup"),
    "access:recovery_codes": lambda w: reverse("access:recovery_codes"),
    "admin:index": lambda w: reverse("admin:index"),
    "admin:search": lambda w: reverse("admin:search") + "?s=team",
    "admin:app_list": lambda w: reverse("admin:app_list", args=["geo"]),
    "admin:password_change": lambda w: reverse("admin:password_change"),
    "admin:password_change_done": lambda w: reverse("admin:password_change_done"),
    "admin:autocomplete": lambda w: (
        reverse("admin:autocomplete")
        + "?"
        + urlencode(
            {
                "app_label": "team",
                "model_name": "membership",
                "field_name": "member",
                "term": "Phạm",
            }
        )
    ),
    "admin:jsi18n": lambda w: reverse("admin:jsi18n"),
    "admin:view_on_site": lambda w: reverse(
        "admin:view_on_site",
        args=[ContentType.objects.get_for_model(Hamlet).pk, w.objects["geo.hamlet"].pk],
    ),
    "admin/(?P<url>.*)$": lambda w: "/admin/geo/hamlet",
    "admin:auth_user_password_change": lambda w: reverse(
        "admin:auth_user_password_change", args=[w.objects["access.user"].pk]
    ),
    "admin:team_member_roster_import": lambda w: reverse("admin:team_member_roster_import"),
    "admin:team_member_roster_template": lambda w: reverse("admin:team_member_roster_template"),
    "badges:member": lambda w: reverse("badges:member", args=[w.objects["team.member"].code]),
    "badges:team": lambda w: reverse(
        "badges:team", args=[w.extra.home.code, w.objects["team.team"].code]
    ),
    "outreach:household_import": lambda w: reverse("outreach:household_import"),
    "outreach:household_template": lambda w: reverse("outreach:household_template"),
    "outreach:household_export": lambda w: reverse("outreach:household_export"),
    "outreach:photo": lambda w: reverse("outreach:photo", args=[w.extra.photo]),
    "outreach:resident_rights": lambda w: reverse(
        "outreach:resident_rights", args=[w.objects["outreach.resident"].code]
    ),
    "outreach:resident_data_export": lambda w: reverse(
        "outreach:resident_data_export", args=[w.objects["outreach.resident"].code, "json"]
    ),
    "outreach:resident_data_erase": lambda w: reverse(
        "outreach:resident_data_erase", args=[w.objects["outreach.resident"].code]
    ),
    "admin:training_handbook_preview": lambda w: reverse(
        "admin:training_handbook_preview", args=[w.objects["training.handbook"].pk]
    ),
    "admin:training_handbook_pdf": lambda w: reverse(
        "admin:training_handbook_pdf", args=[w.objects["training.handbook"].pk]
    ),
    "admin:training_handbook_new_version": lambda w: reverse(
        "admin:training_handbook_new_version", args=[w.objects["training.handbook"].pk]
    ),
    "admin:training_session_attendance": lambda w: reverse(
        "admin:training_session_attendance", args=[w.objects["training.trainingsession"].pk]
    ),
    "admin:training_session_code": lambda w: reverse(
        "admin:training_session_code", args=[w.objects["training.trainingsession"].pk]
    ),
    "admin:training_session_issue": lambda w: reverse(
        "admin:training_session_issue", args=[w.objects["training.trainingsession"].pk]
    ),
    "admin:training_session_certificates": lambda w: reverse(
        "admin:training_session_certificates", args=[w.objects["training.trainingsession"].pk]
    ),
    "admin:training_session_export": lambda w: reverse(
        "admin:training_session_export", args=[w.objects["training.trainingsession"].pk]
    ),
    "admin:training_attendance_certificate": lambda w: reverse(
        "admin:training_attendance_certificate", args=[w.objects["training.attendance"].pk]
    ),
    "admin:training_attendance_revoke": lambda w: reverse(
        "admin:training_attendance_revoke", args=[w.objects["training.attendance"].pk]
    ),
    "training:handbooks": lambda w: reverse("training:handbooks"),
    "training:handbook_download": lambda w: reverse(
        "training:handbook_download", args=[w.objects["training.handbook"].code]
    ),
    "training:attend": lambda w: reverse("training:attend", args=[w.extra.attend_code]),
    "core:verify_lookup": lambda w: reverse("core:verify_lookup"),
    "core:verify": lambda w: reverse("core:verify", args=[w.extra.badge]),
    "dashboard:home": lambda w: reverse("dashboard:home"),
    "dashboard:province": lambda w: reverse("dashboard:province", args=["79"]),
    "dashboard:commune": lambda w: reverse("dashboard:commune", args=["25747"]),
    "dashboard:hamlet": lambda w: reverse("dashboard:hamlet", args=[w.objects["geo.hamlet"].code]),
    "dashboard:former": lambda w: reverse("dashboard:former", args=["25747"]),
    "dashboard:team": lambda w: reverse(
        "dashboard:team", args=["25747", w.objects["team.team"].code]
    ),
    "dashboard:export": lambda w: reverse("dashboard:export", args=["c", "25747", "hamlets"]),
    "dashboard:report": lambda w: reverse("dashboard:report", args=["c", "25747"]),
    "api:openapi": lambda w: reverse("api:openapi"),
    "api:indicators": _api("api:indicators"),
    "api:units": _api("api:units", within="79", level="commune"),
    "api:values": _api("api:values", unit="25747", indicator="vneid_level2", period="2025"),
    "api:values_csv": _api("api:values_csv", unit="25747", indicator="vneid_level2", period="2025"),
    "api:data_value_sets": _api(
        "api:data_value_sets", unit="25747", indicator="vneid_level2", period="2025"
    ),
    "api:open": lambda w: reverse("api:open"),
    "api:open_csv": lambda w: reverse("api:open_csv", args=["79"]),
    "api:open_json": lambda w: reverse("api:open_json", args=["79"]),
    "api:open_csv_metadata": lambda w: reverse("api:open_csv_metadata", args=["79"]),
    "api:open_json_metadata": lambda w: reverse("api:open_json_metadata", args=["79"]),
    "^media/(?P<path>.*)$": lambda w: MEDIA_SAMPLE,
}
# Routes that only answer POST: they are checked with a POST.
POST_ONLY = {
    "badges:member",
    "badges:team",
    "outreach:resident_data_erase",
    "admin:training_session_issue",
    "admin:training_attendance_revoke",
}
# Token routes that name a unit in their query string (the others list what the token reaches).
TOKEN_OBJECT_ROUTES = {"api:units", "api:values", "api:values_csv", "api:data_value_sets"}


def sample(route: Route, w: World) -> str:
    if route.admin_model:
        return admin_url(route, w)
    assert route.key in SAMPLES, f"add a sample address for {route.key} to SAMPLES"
    return SAMPLES[route.key](w)


# Routes whose arguments name no object of a commune.
NOT_OBJECTS = {"admin:app_list", "admin/(?P<url>.*)$"}


def names_an_object(route: Route) -> bool:
    if route.admin_model:
        return route.admin_page in OBJECT_PAGES
    return (
        route.takes_arguments
        and allowed(route) not in (PUBLIC, TOKEN)
        and route.key not in NOT_OBJECTS
    )


def request(client: Client, route: Route, url: str, **extra: Any) -> Any:
    if route.key in POST_ONLY:
        return client.post(url, **extra)
    return client.get(url, **extra)


def refused(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


@pytest.fixture
def world(db, settings, tmp_path):
    return build_world(settings, tmp_path)


@pytest.fixture(autouse=True)
def development_media():
    """With DEBUG on when the URLs were first read, Django serves uploads from the MEDIA_ROOT of
    that moment: a file there for the public media route to answer."""
    try:
        match = resolve(MEDIA_SAMPLE)
    except Resolver404:
        yield
        return
    path = Path(match.kwargs["document_root"]) / MEDIA_SAMPLE.removeprefix("/media/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("demo")
    yield
    path.unlink()
    path.parent.rmdir()


# --- Each role reaches exactly its routes -------------------------------------------------------


def test_each_role_reaches_exactly_the_routes_listed_for_it(world, client):
    clients = {role: client_for(user) for role, user in world.users.items()}
    token_client = Client(HTTP_AUTHORIZATION=f"Bearer {world.extra.token}")
    wrong = []
    for route in all_routes():
        who = allowed(route)
        if route.admin_model and route.admin_page != "changelist":
            continue  # add, change and delete follow the model's permissions, tested per app
        url = sample(route, world)
        if who == PUBLIC:
            response = request(client, route, url)
            if refused(response) or response.status_code >= 500:
                wrong.append((route.key, "anonymous", response.status_code))
            continue
        if who == TOKEN:
            for caller, expected in ((token_client, 200), (client, 401)):
                status = request(caller, route, url).status_code
                if status != expected:
                    wrong.append((route.key, "token" if expected == 200 else "no token", status))
            continue
        if refused(request(client, route, url)) is False:
            wrong.append((route.key, "anonymous", "not refused"))
        for role in ROLES:
            if route.key in POST_ONLY and role in who:
                continue  # a POST would act; the refusals below still run
            response = request(clients[role], route, url)
            if response.status_code >= 500 or refused(response) == (role in who):
                wrong.append((route.key, role, response.status_code))
    assert not wrong, "routes whose callers differ from cnsc/core/routes.py: " + repr(wrong)


# --- Another commune's users are refused, and the refusal is logged ----------------------------


def test_users_of_another_commune_are_refused_and_the_refusal_is_logged(world, caplog):
    wrong = []
    checked = 0
    for route in all_routes():
        who = allowed(route) or frozenset()
        if not names_an_object(route):
            continue
        url = sample(route, world)
        outsiders = [u for role in who for u in world.outsiders.get(role, [])]
        if not outsiders:  # superusers only: the nearest non-superusers
            outsiders = world.outsiders[PROVINCE] + world.outsiders[COMMUNE]
        for outsider in outsiders:
            before = AuditEvent.objects.filter(user=outsider, action=AuditAction.ACCESS_DENIED)
            count = before.count()
            response = request(client_for(outsider), route, url, follow=True)
            checked += 1
            # 404, not 403: an outsider is not even told that the object exists.
            if response.status_code != 404:
                wrong.append((route.key, outsider.username, response.status_code))
            elif before.count() != count + 1:
                wrong.append((route.key, outsider.username, "refusal not logged"))
    assert checked > 150
    assert not wrong, "outsiders not refused, or refusals not logged: " + repr(wrong)


def test_our_objects_are_missing_from_an_outsiders_lists(world):
    wrong = []
    for route in all_routes():
        if route.admin_page != "changelist":
            continue
        obj = world.objects[route.admin_model]
        link = reverse(f"admin:{route.admin_model.replace('.', '_')}_change", args=[obj.pk])
        who = allowed(route) or frozenset()
        for outsider in [u for role in who for u in world.outsiders.get(role, [])]:
            response = client_for(outsider).get(sample(route, world))
            if response.status_code != 200 or link in response.content.decode():
                wrong.append((route.key, outsider.username, response.status_code))
    member = world.objects["team.member"]
    found = client_for(world.outsiders[COMMUNE][1]).get(SAMPLES["admin:autocomplete"](world))
    if member.full_name in found.content.decode("unicode_escape"):
        wrong.append(("admin:autocomplete", "neighbour", "lists our member"))
    assert not wrong, "outsiders' lists showing our objects: " + repr(wrong)


# Names of the world's rows: none of them may reach a user who is assigned to no unit.
OUR_NAMES = (
    "Khu phố 1",
    "Phạm Thị Hoa",
    "Tổ Trưởng",
    "Nguyễn Văn Tư",
    "Đường Yersin",
    "Cẩm nang của phường",
    "Đỗ Thị Thu",
    "Họp tổ lúc 8 giờ",
    "Phường Thủ Dầu Một",
)


def _text(response: Any) -> str:
    """What a page or JSON answer says; empty for a file (a blank spreadsheet)."""
    kind = response.get("Content-Type", "")
    if kind.startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return response.content.decode() if kind.startswith("text/") else ""


def test_users_without_a_unit_are_refused_our_objects_and_see_empty_lists(world):
    nobody = {role: make_user(f"nobody-{role}", role) for role in (PROVINCE, COMMUNE, LEADER)}
    wrong = []
    lists = 0
    for route in all_routes():
        who = allowed(route) or frozenset()
        if who in (PUBLIC, TOKEN) or route.key in POST_ONLY:
            continue
        if route.admin_model and route.admin_page not in ("changelist", *OBJECT_PAGES):
            continue  # the add page names nothing and lists nothing
        url = sample(route, world)
        for role in sorted(set(nobody) & who):
            client = client_for(nobody[role])
            if names_an_object(route):
                status = request(client, route, url, follow=True).status_code
                if status not in (403, 404):
                    wrong.append((route.key, role, status))
                continue
            response = request(client, route, url, follow=True)
            if response.status_code != 200:
                continue  # refused, or a page that lists nothing (a blank spreadsheet)
            if route.admin_page == "changelist":
                lists += 1
                if response.context["cl"].result_count != 0:
                    wrong.append((route.key, role, "rows listed"))
            shown = [name for name in OUR_NAMES if name in _text(response)]
            if shown:
                wrong.append((route.key, role, shown))
    assert lists > 40
    assert not wrong, "users without a unit reaching our objects: " + repr(wrong)


def test_api_clients_of_another_province_are_refused_and_logged(world, caplog):
    outsider = Client(HTTP_AUTHORIZATION=f"Bearer {world.extra.outsider_token}")
    for key in TOKEN_OBJECT_ROUTES:
        route = Route(key, key)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cnsc.security"):
            status = outsider.get(sample(route, world)).status_code
        assert status in (403, 404), key
        (line,) = [r for r in caplog.records if r.msg == "access.denied"]
        assert line.token is True
        assert line.status == status


# --- Nothing before the second factor ----------------------------------------------------------


def test_nothing_is_reached_before_the_second_factor(world, settings):
    settings.OTP_REQUIRED = True
    unverified = Client()
    unverified.force_login(world.users[PROVINCE])
    code_page = reverse("access:two_factor")
    wrong = []
    for route in all_routes():
        who = allowed(route)
        if who in (PUBLIC, TOKEN) or route.key in (
            "access:two_factor",
            "access:two_factor_setup",
        ):
            continue
        response = request(unverified, route, sample(route, world))
        if response.status_code != 302 or not response["Location"].startswith(code_page):
            wrong.append((route.key, response.status_code))
    assert not wrong, "reached without the second factor: " + repr(wrong)


def test_a_denied_object_is_noted_as_out_of_scope(world):
    outsider = world.outsiders[COMMUNE][0]
    hamlet = world.objects["geo.hamlet"]
    client_for(outsider).get(reverse("admin:geo_hamlet_change", args=[hamlet.pk]))
    client_for(outsider).get(reverse("admin:geo_hamlet_change", args=[hamlet.pk + 10_000]))
    reasons = list(
        AuditEvent.objects.filter(user=outsider, action=AuditAction.ACCESS_DENIED)
        .order_by("pk")
        .values_list("detail__reason", flat=True)
    )
    assert reasons == ["out_of_scope", None]
    event = AuditEvent.objects.filter(user=outsider).first()
    assert event.target == "admin:geo_hamlet_change"
    assert event.detail["route"] == "admin/geo/hamlet/<path:object_id>/change/"
    assert str(hamlet.pk) not in str(event.detail)
