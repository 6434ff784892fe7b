from django.urls import include, path

urlpatterns = [
    path("", include("lending.servicing.api.loans")),
    path("", include("lending.servicing.api.repayments")),
    path("", include("lending.servicing.api.deferrals")),
    path("", include("lending.servicing.api.rails")),
]
