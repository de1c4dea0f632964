"""The period a dashboard opens on when none is asked for: in the first week of a month the
month just ended (complete), not the new month whose visits read 0; from the 8th, the running
month so far. Dates are fixed by setting the clock's day, never the figures."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cnsc.core.testing import client_for
from cnsc.dashboard.selectors import default_period

pytestmark = pytest.mark.django_db

PROVINCE = "/dashboard/p/79/"
HOME = "/dashboard/c/25747/"
NOTE = "ngày đầu tháng"


@pytest.fixture
def today_is(monkeypatch):
    """Make the local day ``day`` for everything that asks for today (the computing times of
    the figures keep their real clock)."""
    real = timezone.localdate

    def fix(day: dt.date) -> None:
        monkeypatch.setattr(
            timezone,
            "localdate",
            lambda value=None, timezone=None: day if value is None else real(value, timezone),
        )

    return fix


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 2, 1), "202601"),
        (dt.date(2026, 2, 7), "202601"),
        (dt.date(2026, 2, 8), "202602"),
        (dt.date(2026, 2, 28), "202602"),
        (dt.date(2027, 1, 3), "202612"),  # the month before is in the year before
    ],
)
def test_the_default_month_is_the_one_just_ended_in_the_first_week(today, expected):
    assert default_period(today).code == expected


def test_the_running_month_when_the_month_before_is_not_kept(settings):
    settings.INDICATORS_SINCE = dt.date(2026, 2, 1)
    assert default_period(dt.date(2026, 2, 1)).code == "202602"


def visits_card(page):
    (card,) = [c for c in page.cards if c.indicator.code == "visits"]
    return card


def test_on_the_first_of_the_month_the_page_opens_on_the_month_just_ended(
    built, province_staff, today_is
):
    today_is(dt.date(2026, 2, 1))
    client = client_for(province_staff)
    for url in (PROVINCE, HOME):
        response = client.get(url)
        page = response.context["page"]
        assert page.period.code == "202601", url
        # January's two visits (v6, v8), not February's nothing.
        assert visits_card(page).figure.numerator == 2, url
        assert not visits_card(page).so_far
        html = response.content.decode()
        assert (
            "Trong 7 ngày đầu tháng, trang mở số liệu tháng 01/2026 vừa kết thúc, đã đầy đủ" in html
        )
        assert 'href="?period=202602">Xem tháng 02/2026 đến nay</a>' in html
    # The new month, asked for, is shown as it is (no visits yet) and without the note.
    asked = client.get(HOME, {"period": "202602"})
    assert asked.context["page"].period.code == "202602"
    assert visits_card(asked.context["page"]).figure.numerator == 0
    assert NOTE not in asked.content.decode()


def test_from_the_eighth_the_page_opens_on_the_running_month(built, province_staff, today_is):
    today_is(dt.date(2026, 1, 15))
    response = client_for(province_staff).get(HOME)
    page = response.context["page"]
    assert page.period.code == "202601"
    assert visits_card(page).so_far
    html = response.content.decode()
    assert "đến nay: ngày 15 trên 31" in html
    assert NOTE not in html
