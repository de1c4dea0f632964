from django.urls import path

from cnsc.training import views

app_name = "training"

urlpatterns = [
    path("handbooks/", views.handbook_list, name="handbooks"),
    path("handbooks/<str:code>.pdf", views.handbook_download, name="handbook_download"),
    path("attend/<str:code>", views.attend, name="attend"),
]
