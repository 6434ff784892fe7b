"""The merchant's pages under ``/loans/``, one ``lending`` namespace over the three contexts' own URLs."""

from django.urls import include, path

app_name = "lending"

urlpatterns = [
    path("", include("lending.catalogue.web.urls")),
    path("", include("lending.origination.web.urls")),
    path("", include("lending.servicing.web.urls")),
]
