from django.urls import path

from cnsc.core import views

app_name = "core"

urlpatterns = [
    path("verify/", views.verify_lookup, name="verify_lookup"),
    path("verify/<str:code>", views.verify, name="verify"),
]
