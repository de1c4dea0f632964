"""Past versions of rows written from the field (visits) open in the back office: fields shown
read-only, never a server error."""

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
