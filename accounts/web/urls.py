from django.urls import path

from accounts.web import views

app_name = "accounts"

urlpatterns = [
    path("", views.SecurityView.as_view(), name="security"),
    path("enrol/<str:token>/", views.StaffEnrolView.as_view(), name="staff-enrol"),
]
