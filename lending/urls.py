from django.urls import include, path

from lending import views

app_name = "lending"

urlpatterns = [
    path("calculator/", views.CalculatorView.as_view(), name="calculator"),
    path("", include("lending.web.applications")),
    path("", include("lending.web.contracts")),
    path("", include("lending.web.loans")),
    path("", include("lending.web.repayments")),
    path("", include("lending.web.servicing")),
    path("", include("lending.web.restructure")),
]
