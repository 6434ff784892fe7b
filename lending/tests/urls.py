"""The project's URLs with the lending routes wired the way config/urls.py is asked to wire them."""

from django.urls import include, path

from config import urls as project

api_v1 = [path("", include("lending.api.urls")), *project.api_v1]

urlpatterns = [
    path("loans/", include("lending.urls")),
    path("api/v1/", include((api_v1, "api"))),
    *(pattern for pattern in project.urlpatterns if str(pattern.pattern) != "api/v1/"),
]
