from django.urls import include, path

urlpatterns = [
    path("", include("lending.servicing.web.loans")),
    path("", include("lending.servicing.web.repayments")),
    path("", include("lending.servicing.web.deferrals")),
    path("", include("lending.servicing.web.restructure")),
]
