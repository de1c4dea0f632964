"""Training figures on a small data set built by hand; the expected numbers were worked out on
paper from the list below before the selectors were run.

Courses: C1 VNeID (attendance), C2 digital signature + payments (attendance), C3 scams (score
at least 70). Phường Thủ Dầu Một (home) has team A (a1, a2; x1 left it) and team B (b1);
Phường Phú Lợi (neighbour) has team N (n1).

S1  C1  home       10 days ago  trainer a1   a2 ✓  b1 ✓  x1 ✓  resident r1 ✓  resident r2 absent
S2  C2  home        3 days ago  trainer b1   a2 ✓  n1 ✓  r1 ✓  r3 ✓
S3  C3  neighbour   2 days ago  trainer n1   a1 80 ✓  b1 50 ✗  r4 90 ✓
S4  C1  home       in 3 days    trainer a1   a1 registered          (not held: not over)
S5  C1  home        1 day ago   trainer a2   r5 absent              (not held: nobody came)
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cnsc.geo.models import Hamlet, HamletKind
from cnsc.team.services import membership_end
from cnsc.team.tests.factories import enrol, make_team
from cnsc.training.models import Topic
from cnsc.training.selectors import (
    TrainingFigures,
    commune_training_figures,
    member_training_figures,
    team_training_figures,
    training_figures_by_commune,
)
from cnsc.training.services import (
    attendance_add,
    attendance_record,
    resident_attendee_find_or_create,
)
from cnsc.training.tests.factories import make_course, make_score_course, make_session, move_session

pytestmark = pytest.mark.django_db

V, S, P, X = Topic.VNEID, Topic.DIGITAL_SIGNATURE, Topic.PAYMENTS, Topic.SECURITY


def topics(**counts):
    figures = dict.fromkeys(Topic.values, 0)
    figures.update({Topic[name].value: n for name, n in counts.items()})
    return figures


@pytest.fixture
def world(home_province, home_commune, neighbour_commune, hamlet):
    team_a = make_team(hamlet)
    team_b = make_team(
        Hamlet.objects.create(commune=home_commune, name="Khu phố 2", kind=HamletKind.QUARTER)
    )
    team_n = make_team(
        Hamlet.objects.create(
            commune=neighbour_commune, name="Khu phố Phú Lợi", kind=HamletKind.QUARTER
        )
    )
    a1 = enrol(team_a, full_name="A Một").member
    a2 = enrol(team_a, full_name="A Hai").member
    x1_membership = enrol(
        team_a, full_name="X Rời tổ", joined_on=timezone.localdate() - dt.timedelta(days=60)
    )
    x1 = x1_membership.member
    b1 = enrol(team_b, full_name="B Một").member
    n1 = enrol(team_n, full_name="N Một").member

    c1 = make_course(home_province, title="C1", topics=[V])
    c2 = make_course(home_province, title="C2", topics=[S, P])
    c3 = make_score_course(home_province, title="C3", topics=[X], pass_score=70)

    def resident(commune, name):
        return resident_attendee_find_or_create(
            commune=commune, full_name=name, birth_year=1960, consent_given=True
        )

    r1, r2, r3 = (resident(home_commune, n) for n in ("R Một", "R Hai", "R Ba"))
    r4 = resident(neighbour_commune, "R Bốn")
    r5 = resident(home_commune, "R Năm")

    def held(course, commune, days_ago, trainer, people):
        session = make_session(course, commune, trainers=[trainer])
        rows = [
            (attendance_add(session=session, **{kind: person}), present, score)
            for kind, person, present, score in people
        ]
        move_session(session, starts_ago=dt.timedelta(days=days_ago))
        for row, present, score in rows:
            attendance_record(attendance=row, attended=present, score=score)
        return session

    m, r = "member", "resident"
    held(
        c1,
        home_commune,
        10,
        a1,
        [
            (m, a2, True, None),
            (m, b1, True, None),
            (m, x1, True, None),
            (r, r1, True, None),
            (r, r2, False, None),
        ],
    )
    held(
        c2,
        home_commune,
        3,
        b1,
        [(m, a2, True, None), (m, n1, True, None), (r, r1, True, None), (r, r3, True, None)],
    )
    held(c3, neighbour_commune, 2, n1, [(m, a1, True, 80), (m, b1, True, 50), (r, r4, True, 90)])
    future = make_session(c1, home_commune, starts_in=dt.timedelta(days=3), trainers=[a1])
    attendance_add(session=future, member=a1)
    held(c1, home_commune, 1, a2, [(r, r5, False, None)])
    # x1 left team A after being trained: still on the commune's roster, no longer in the team.
    membership_end(membership=x1_membership)
    return {"a": team_a, "b": team_b, "a1": a1, "a2": a2, "b1": b1, "n1": n1}


def test_figures_per_commune(world, home_commune, neighbour_commune):
    assert commune_training_figures(commune=home_commune) == TrainingFigures(
        members_trained_by_topic=topics(VNEID=3, DIGITAL_SIGNATURE=1, PAYMENTS=1, SECURITY=1),
        members_trained=4,
        residents_trained=2,
        sessions_held=2,
    )
    assert commune_training_figures(commune=neighbour_commune) == TrainingFigures(
        members_trained_by_topic=topics(DIGITAL_SIGNATURE=1, PAYMENTS=1),
        members_trained=1,
        residents_trained=1,
        sessions_held=1,
    )


def test_figures_for_a_period(world, home_commune):
    since = timezone.localdate() - dt.timedelta(days=5)
    assert commune_training_figures(commune=home_commune, since=since) == TrainingFigures(
        members_trained_by_topic=topics(DIGITAL_SIGNATURE=1, PAYMENTS=1, SECURITY=1),
        members_trained=2,
        residents_trained=2,
        sessions_held=1,
    )
    until = timezone.localdate() - dt.timedelta(days=5)
    assert commune_training_figures(commune=home_commune, until=until).sessions_held == 1


def test_many_communes_at_once_agree_with_one_at_a_time(
    world, home_commune, neighbour_commune, other_commune
):
    together = training_figures_by_commune(
        communes=[home_commune, neighbour_commune, other_commune]
    )
    assert together[home_commune.pk] == commune_training_figures(commune=home_commune)
    assert together[neighbour_commune.pk] == commune_training_figures(commune=neighbour_commune)
    assert together[other_commune.pk] == TrainingFigures()


def test_figures_per_team(world):
    assert team_training_figures(team=world["a"]) == TrainingFigures(
        members_trained_by_topic=topics(VNEID=1, DIGITAL_SIGNATURE=1, PAYMENTS=1, SECURITY=1),
        members_trained=2,
        residents_trained=1,
        sessions_held=1,
    )
    assert team_training_figures(team=world["b"]) == TrainingFigures(
        members_trained_by_topic=topics(VNEID=1),
        members_trained=1,
        residents_trained=2,
        sessions_held=1,
    )


def test_figures_per_member(world):
    got = {key: member_training_figures(member=world[key]) for key in ("a1", "a2", "b1", "n1")}
    assert {k: (f.courses_passed, f.sessions_given) for k, f in got.items()} == {
        "a1": (1, 1),
        "a2": (2, 0),
        "b1": (1, 1),
        "n1": (1, 1),
    }
