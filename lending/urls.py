from django.urls import path

from lending import views

app_name = "lending"

urlpatterns = [
    path("calculator/", views.CalculatorView.as_view(), name="calculator"),
]
