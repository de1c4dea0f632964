from django.urls import path

from . import views

app_name = "outreach"

urlpatterns = [
    path("households/import/", views.household_import, name="household_import"),
    path("households/template.xlsx", views.household_template, name="household_template"),
    path("households/export/", views.household_export, name="household_export"),
    path("photos/<path:path>", views.photo, name="photo"),
    path("residents/<str:code>/data/", views.resident_rights, name="resident_rights"),
    path(
        "residents/<str:code>/data.<str:fmt>",
        views.resident_data_export,
        name="resident_data_export",
    ),
    path("residents/<str:code>/erase/", views.resident_data_erase, name="resident_data_erase"),
]
