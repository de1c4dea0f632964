"""Rules the database keeps for households and residents, whatever code writes to it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from cnsc.outreach.models import Household, Resident

pytestmark = pytest.mark.django_db


def test_a_household_keeps_normalised_address_and_search_keys(hamlet):
    household = Household.objects.create(
        commune=hamlet.commune, hamlet=hamlet, house_number=" 12/3A ", street="Hẻm 5  Đường Yersin"
    )
    head = Resident.objects.create(household=household, full_name="Trần Thị Bích", sex="female")
    household.head = head
    household.save(update_fields=["head"])
    household.refresh_from_db()
    assert household.address_key == "12/3a hem 5 duong yersin"
    assert household.search_name == "tran thi bich 12/3a hem 5 duong yersin"
    assert len(household.code) == 8


def test_household_codes_are_unique_within_a_commune(hamlet, other_hamlet):
    Household.objects.create(commune=hamlet.commune, hamlet=hamlet, code="HK-001")
    Household.objects.create(commune=other_hamlet.commune, hamlet=other_hamlet, code="HK-001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Household.objects.create(commune=hamlet.commune, hamlet=hamlet, code="HK-001")


def test_a_point_outside_vietnam_is_refused_by_the_database(hamlet):
    with pytest.raises(IntegrityError), transaction.atomic():
        Household.objects.create(
            commune=hamlet.commune, hamlet=hamlet, latitude=1.29, longitude=103.85
        )


@pytest.mark.parametrize("model", [Household, Resident])
def test_change_history_is_indexed_for_its_pages_only(model):
    """Past versions are looked up by the row they belong to, listed by date, and found by their
    author when a user is removed; any other index only slows a commune's import of its list."""
    table = model.history.model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = {
        tuple(c["columns"])
        for c in constraints.values()
        if (c["index"] or c["primary_key"]) and c["columns"]
    }
    assert indexed == {("history_id",), ("id",), ("history_date",), ("history_user_id",)}
