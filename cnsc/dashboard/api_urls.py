from django.urls import path

from cnsc.dashboard import api, opendata

app_name = "api"

urlpatterns = [
    path("openapi.json", api.openapi_document, name="openapi"),
    path("indicators", api.indicators, name="indicators"),
    path("units", api.units, name="units"),
    path("values", api.values, name="values"),
    path("values.csv", api.values_csv, name="values_csv"),
    path("dataValueSets.json", api.data_value_sets, name="data_value_sets"),
    path("open/", opendata.catalogue, name="open"),
    path("open/<str:province>/values.csv", opendata.values_csv, name="open_csv"),
    path("open/<str:province>/values.json", opendata.values_json, name="open_json"),
    path(
        "open/<str:province>/values.csv-metadata.json",
        opendata.csv_metadata,
        name="open_csv_metadata",
    ),
    path(
        "open/<str:province>/values.json-metadata.json",
        opendata.json_metadata,
        name="open_json_metadata",
    ),
]
