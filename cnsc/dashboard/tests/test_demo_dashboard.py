"""With the demo data, the province page shows Bình Dương's teams as the 2023 report counts
them: 586 teams and 3,329 members against a target of 4,500."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from cnsc.access.models import User
from cnsc.core.testing import client_for

pytestmark = pytest.mark.django_db


def test_the_province_page_shows_the_demo_roster_against_its_target():
    call_command("seed_demo", verbosity=0)
    call_command("recompute_indicators")
    response = client_for(User.objects.get(username="tinh")).get("/dashboard/p/79/")
    assert response.status_code == 200
    figures = response.context["page"].figures
    assert figures["teams"].numerator == 586
    assert (figures["members"].numerator, figures["members"].denominator) == (3329, 4500)
    html = response.content.decode()
    assert re.search(r'class="card-value">586\b', html)
    assert re.search(r'class="card-value">3\.329\b', html)
    assert "4.500" in html
    # The demo's households were listed before its year of visits: half a year ago they were
    # all on the list already, and some had been visited.
    trend = response.context["page"].trends["households_visited"]
    half_a_year_ago = trend[-7][1]
    assert half_a_year_ago.denominator == figures["households_visited"].denominator
    assert 0 < half_a_year_ago.numerator < figures["households_visited"].numerator
