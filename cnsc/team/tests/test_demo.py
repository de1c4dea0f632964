"""seed_demo builds Bình Dương as the report of 29 November 2023 describes it.

The demo is built once per module (a few seconds) inside a transaction that is rolled back at
the end; each test runs in a savepoint within it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import phonenumbers
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.models import Count, Q
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cnsc.access.models import User
from cnsc.core.identity import current_key_id, normalize_phone
from cnsc.core.text import nfc, search_key
from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level, UnitKind, UnitMapping
from cnsc.team.demo import REPORT_DATE
from cnsc.team.models import Member, MemberRole, Membership, Target, Team

pytestmark = pytest.mark.django_db

TWELVE_DIGITS = re.compile(r"\d{12}")
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def demo_hamlets() -> models.QuerySet[Hamlet]:
    return Hamlet.objects.filter(former_commune__province__code="74")


def demo_teams() -> models.QuerySet[Team]:
    return Team.objects.filter(hamlet__in=demo_hamlets())


def snapshot() -> dict[str, Any]:
    """Everything the demo writes, with its history, as comparable values."""
    return {
        "hamlets": list(demo_hamlets().order_by("id").values()),
        "teams": list(Team.objects.order_by("id").values()),
        "members": list(Member.objects.order_by("id").values()),
        "memberships": list(Membership.objects.order_by("id").values()),
        "targets": list(Target.objects.order_by("id").values()),
        "history": [
            m.history.count()  # type: ignore[attr-defined]
            for m in (Hamlet, Team, Member, Membership, Target)
        ],
    }


def test_the_report_figures(seeded):
    former_communes = AdminUnit.objects.filter(
        id__in=demo_hamlets().filter(teams__isnull=False).values("former_commune")
    )
    assert "586 teams, 3,329 members" in seeded
    assert demo_teams().count() == 586
    assert Member.objects.filter(memberships__team__in=demo_teams()).distinct().count() == 3329
    assert Member.objects.count() == 3329
    assert former_communes.count() == 91
    assert former_communes.values("parent").distinct().count() == 9
    assert Membership.objects.active(on=REPORT_DATE).count() == 3329
    targets = {(t.unit.code, t.unit.hierarchy, t.year): t.members for t in Target.objects.all()}
    assert targets[("74", Hierarchy.FORMER, 2023)] == 4500
    assert ("79", Hierarchy.CURRENT, timezone.localdate().year) in targets


def test_every_team_has_one_active_leader_and_every_member_one_team(seeded):
    leaders = demo_teams().annotate(
        n=Count(
            "memberships",
            filter=Q(memberships__role=MemberRole.LEADER, memberships__left_on__isnull=True),
        )
    )
    assert set(leaders.values_list("n", flat=True)) == {1}
    active = Membership.objects.filter(left_on__isnull=True)
    assert active.count() == active.values("member").distinct().count() == 3329
    assert active.filter(role=MemberRole.DEPUTY).count() > 300
    # History to show on a team page: handovers and moves ended memberships, kept.
    assert Membership.objects.filter(left_on__isnull=False, role=MemberRole.LEADER).exists()


def test_hamlets_lie_in_the_hcmc_wards_their_former_commune_went_into(seeded):
    hamlets = demo_hamlets().select_related("commune__province", "former_commune")
    main = set(UnitMapping.objects.filter(is_main=True).values_list("former_id", "current_id"))
    assert hamlets.count() >= 586
    for hamlet in hamlets:
        assert hamlet.commune.hierarchy == Hierarchy.CURRENT
        assert hamlet.commune.level == Level.COMMUNE
        assert hamlet.commune.province.code == "79"
        assert (hamlet.former_commune_id, hamlet.commune_id) in main
        ward = hamlet.commune.kind == UnitKind.WARD
        assert hamlet.kind == (HamletKind.QUARTER if ward else HamletKind.HAMLET)
        assert hamlet.name.startswith("Khu phố " if ward else "Ấp ")
        # Within a few kilometres of the ward's centre.
        assert abs(hamlet.latitude - hamlet.commune.latitude) < 0.15
        assert abs(hamlet.longitude - hamlet.commune.longitude) < 0.15


def test_rows_hold_what_the_services_would_store(seeded):
    members = list(Member.objects.all())
    assert all(m.full_name == nfc(m.full_name) for m in members)
    assert all(m.search_name == search_key(m.full_name) for m in members)
    assert all(normalize_phone(m.phone) == m.phone for m in members)
    mobile = phonenumbers.PhoneNumberType.MOBILE
    assert all(phonenumbers.number_type(phonenumbers.parse(m.phone)) == mobile for m in members)
    assert all(m.consent_given_at and m.consent_purpose for m in members)
    with_cccd = [m for m in members if m.cccd_hash]
    assert 0.2 < len(with_cccd) / len(members) < 0.6
    for m in with_cccd:
        assert re.fullmatch(r"[0-9a-f]{64}", m.cccd_hash)
        assert re.fullmatch(r"\d{4}", m.cccd_last4)
        assert m.cccd_key_id == current_key_id()
    # Saving through the models normalises nothing further.
    for model in (Hamlet, Team, Member):
        for obj in model.objects.order_by("?")[:50]:  # type: ignore[attr-defined]
            before = model_to_dict(obj)
            obj.save()
            obj.refresh_from_db()
            assert model_to_dict(obj) == before


def test_no_table_holds_a_full_cccd(seeded):
    assert Member.objects.exclude(cccd_hash="").exists()
    for model in apps.get_models():
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and "hash" not in f.name
        ]
        if not text_fields:
            continue
        for row in model._default_manager.values_list(*text_fields):
            for value in row:
                assert not TWELVE_DIGITS.search(value or ""), (model.__name__, value)


def test_a_second_run_changes_nothing_and_is_quick(seeded):
    # Quick as in a handful of statements that only read (a second `make run` starts in
    # seconds), not rebuilding the roster to find it unchanged.
    before = snapshot()
    out = io.StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("seed_demo", stdout=out)
    assert "already there, unchanged" in out.getvalue()
    assert snapshot() == before
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) < 50, len(statements)
    writes = [sql for sql in statements if sql.lstrip().upper().startswith(WRITES)]
    assert writes == []


def test_the_commune_official_sees_only_their_wards_teams(seeded):
    xa = User.objects.get(username="xa")
    visible = Team.objects.visible_to(xa)
    assert visible.count() == Team.objects.filter(commune__code="25747").count() > 5
    assert set(visible.values_list("commune__code", flat=True)) == {"25747"}


def test_the_team_leader_sees_only_their_team(seeded):
    leader = User.objects.get(username="totruong")
    team = Team.objects.get(
        memberships__member__user=leader,
        memberships__role=MemberRole.LEADER,
        memberships__left_on__isnull=True,
    )
    assert team.commune.code == "25747"
    assert list(Team.objects.visible_to(leader)) == [team]
    assert set(Member.objects.visible_to(leader)) == {
        m.member for m in team.memberships.filter(left_on__isnull=True)
    }
