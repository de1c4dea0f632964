"""A chat's running flow as the engine reads and writes it on nearly every update: the same
row, values and types as the ORM's, and each step's state and data stored."""

from __future__ import annotations

import pytest

from cnsc.bot.models import BotConversation
from cnsc.bot.selectors import conversation_for_update
from cnsc.bot.services import conversation_save, conversation_start

pytestmark = pytest.mark.django_db


def test_a_flow_read_and_saved_step_by_step(member, django_assert_num_queries):
    started = conversation_start(
        chat_id=4242, member=member, flow="visit", state="household", data={"at": "x"}
    )
    with django_assert_num_queries(1):
        conversation = conversation_for_update(chat_id=4242)
    assert conversation is not None
    orms = BotConversation.objects.get(pk=started.pk)
    for field in BotConversation._meta.concrete_fields:
        mine, theirs = getattr(conversation, field.attname), getattr(orms, field.attname)
        assert (type(mine), mine) == (type(theirs), theirs), field.name
    conversation.data["hh"] = "Nhà 12/3 — Nguyễn Văn Ánh"
    conversation.data["residents"] = [1, 2]
    with django_assert_num_queries(1):
        conversation_save(conversation=conversation, state="residents")
    stored = BotConversation.objects.get(pk=started.pk)
    assert stored.state == "residents"
    assert stored.data == {"at": "x", "hh": "Nhà 12/3 — Nguyễn Văn Ánh", "residents": [1, 2]}
    assert stored.updated_at > orms.updated_at
    assert (stored.flow, stored.token, stored.member_id) == ("visit", started.token, member.pk)


def test_no_flow_in_another_chat(member):
    conversation_start(chat_id=4242, member=member, flow="visit", state="household", data={})
    assert conversation_for_update(chat_id=4243) is None
