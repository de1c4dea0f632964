from django.urls import path

from cnsc.team import badge_views

app_name = "badges"

urlpatterns = [
    path("members/<str:code>/badge", badge_views.member_badge, name="member"),
    path("teams/<str:commune>/<str:code>/badges", badge_views.team_badges, name="team"),
]
