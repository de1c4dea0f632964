"""Rules the database keeps for households and residents, whatever code writes to it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

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
