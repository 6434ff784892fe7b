from django.urls import path

from risk.api import limits

urlpatterns = [
    path("risk/limits/", limits.LimitListApi.as_view(), name="risk-limit-list"),
]
