from django.urls import path

from lending.catalogue.web import views

urlpatterns = [
    path("calculator/", views.CalculatorView.as_view(), name="calculator"),
]
