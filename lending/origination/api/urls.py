from django.urls import include, path

urlpatterns = [
    path("", include("lending.origination.api.applications")),
    path("", include("lending.origination.api.contracts")),
]
