from django.urls import include, path

urlpatterns = [
    path("", include("lending.origination.web.applications")),
    path("", include("lending.origination.web.contracts")),
]
