"""Who is writing to the bot: the linked member and their membership of an active team, read in
one statement on every update, so a change in the back office counts from the next message."""

from __future__ import annotations

import pytest

from cnsc.bot.models import TelegramAccount
from cnsc.bot.selectors import actor_for
from cnsc.team.models import Member, Membership, Team, TeamStatus
from cnsc.team.services import member_move, membership_end, team_update
from cnsc.team.tests.factories import make_team

from .conftest import USER_ID

pytestmark = pytest.mark.django_db


def test_a_linked_member_in_an_active_team_in_one_query(linked, team, django_assert_num_queries):
    with django_assert_num_queries(1):
        actor = actor_for(telegram_user_id=USER_ID)
        assert actor is not None
        # Everything the handlers read is there without another query.
        assert actor.account.pk == linked.pk
        assert actor.account.language == "en"
        assert actor.member.full_name == "Trần Thị Hoa"
        assert actor.member.telegram.telegram_user_id == USER_ID
        assert actor.membership is not None
        assert actor.membership.member == actor.member
        assert actor.team == team
        assert actor.team.name == team.name
        assert actor.team.hamlet_id == team.hamlet_id
    # The same values, of the same types, as the ORM reads (dates aware, JSON decoded...).
    for ours, orms in (
        (actor.account, TelegramAccount.objects.get(pk=linked.pk)),
        (actor.member, Member.objects.get(pk=linked.member_id)),
        (actor.membership, Membership.objects.get(pk=actor.membership.pk)),
        (actor.team, Team.objects.get(pk=team.pk)),
    ):
        for field in type(orms)._meta.concrete_fields:
            mine, theirs = getattr(ours, field.attname), getattr(orms, field.attname)
            assert (type(mine), mine) == (type(theirs), theirs), field.name
    assert actor.account.linked_at.tzinfo is not None
    # Instances as the ORM makes them: saving one writes, not inserts.
    actor.account.language = "vi"
    actor.account.save(update_fields=["language"])
    linked.refresh_from_db()
    assert linked.language == "vi"


def test_the_team_follows_the_back_office(linked, team, placed_hamlet):
    team_update(team=team, status=TeamStatus.SUSPENDED)
    actor = actor_for(telegram_user_id=USER_ID)
    assert actor is not None
    assert actor.member.pk == linked.member_id
    assert actor.membership is None
    assert actor.team is None
    team_update(team=team, status=TeamStatus.ACTIVE)
    other = make_team(placed_hamlet, code="T2", name="Tổ 2")
    member_move(member=linked.member, team=other)
    actor = actor_for(telegram_user_id=USER_ID)
    assert actor is not None
    assert actor.team == other
    membership_end(membership=linked.member.memberships.get(left_on__isnull=True))
    actor = actor_for(telegram_user_id=USER_ID)
    assert actor is not None
    assert actor.team is None


def test_nobody_for_an_unlinked_or_impossible_id(linked):
    assert actor_for(telegram_user_id=USER_ID + 1) is None
    assert actor_for(telegram_user_id=2**63) is None
    assert actor_for(telegram_user_id=-(2**63) - 1) is None
    linked.delete()
    assert actor_for(telegram_user_id=USER_ID) is None
