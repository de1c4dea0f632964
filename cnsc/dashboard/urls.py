from django.urls import path

from cnsc.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<str:code>/", views.province, name="province"),
    path("c/<str:code>/", views.commune, name="commune"),
    path("h/<str:code>/", views.hamlet, name="hamlet"),
    path("f/<str:code>/", views.former, name="former"),
    # Team codes are the commune's own and may hold a slash ("12/QĐ"): the last segment.
    path("t/<str:commune>/<path:code>/", views.team, name="team"),
    path("<str:kind>/<str:code>/export/<str:table>.xlsx", views.export_table, name="export"),
    path("<str:kind>/<str:code>/report.pdf", views.monthly_report, name="report"),
]
