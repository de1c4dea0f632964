"""Past versions of rows open in the back office: for a user who may only look (a reader, or
anyone on a visit written from the field) every field is shown read-only, never a server error,
and posting the version back (a revert) is refused; a user who may change the row gets the form
to revert it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cnsc.core.testing import client_for
from cnsc.outreach.tests.factories import done, record

pytestmark = pytest.mark.django_db


def test_a_past_version_of_a_visit_can_be_looked_at(member, household, resident, official):
    # Visits are read-only in the back office: a past version shows every field read-only.
    visit = record(member, household, [done(resident)])
    version = visit.history.first()
    page = client_for(official).get(
        reverse("admin:outreach_visit_simple_history", args=[visit.pk, version.history_id])
    )
    assert page.status_code == 200
    assert visit.code in page.content.decode()


def past_version_url(household):
    old = household.history.earliest()
    household.street = "Đường Mới"
    household.save()
    return reverse("admin:outreach_household_simple_history", args=[household.pk, old.history_id])


def test_a_reader_sees_a_past_version_but_cannot_revert_to_it(household, province_reader):
    url = past_version_url(household)
    client = client_for(province_reader)
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="street"' not in page.content.decode()  # shown, not editable
    assert client.post(url, {"street": "Đường Yersin"}).status_code == 403
    household.refresh_from_db()
    assert household.street == "Đường Mới"
    assert household.history.count() == 2


def test_a_visit_cannot_be_reverted_from_the_back_office(member, household, resident, official):
    visit = record(member, household, [done(resident)])
    version = visit.history.first()
    url = reverse("admin:outreach_visit_simple_history", args=[visit.pk, version.history_id])
    assert client_for(official).post(url, {}).status_code == 403
    assert visit.history.count() == 1


def test_an_official_who_may_change_a_household_gets_its_past_version_to_revert(
    household, official
):
    page = client_for(official).get(past_version_url(household)).content.decode()
    assert 'name="street"' in page
    assert "Revert" in page
