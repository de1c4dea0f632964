from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from cnsc.core import views as core_views

admin.site.site_title = "CNSC"
admin.site.site_header = _("Community digital technology teams")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("account/", include("cnsc.access.urls")),
    path("", include("cnsc.core.urls")),
    path("team/", include("cnsc.team.badge_urls")),
    path("outreach/", include("cnsc.outreach.urls")),
    path("training/", include("cnsc.training.urls")),
    path("dashboard/", include("cnsc.dashboard.urls")),
    path("api/v1/", include("cnsc.dashboard.api_urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
]

if settings.DEBUG:
    # Uploads in development (handbooks' files in the back office); production serves none, and
    # photos of visits and reports go through outreach:photo in both.
    urlpatterns += [
        re_path(
            r"^media/(?P<path>.*)$",
            core_views.media_in_development,
            {"document_root": settings.MEDIA_ROOT},
        )
    ]
