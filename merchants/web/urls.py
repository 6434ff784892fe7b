from django.urls import path

from merchants.web import dashboard, profile, sales

app_name = "merchants"

urlpatterns = [
    path("", dashboard.DashboardView.as_view(), name="dashboard"),
    path("profile/", profile.ProfileEditView.as_view(), name="profile"),
    path("documents/", profile.DocumentUploadView.as_view(), name="documents"),
    path("documents/<int:pk>/", profile.DocumentDownloadView.as_view(), name="document"),
    path("kyc/submit/", profile.KycSubmitView.as_view(), name="kyc-submit"),
    path("sales/import/", sales.SalesImportView.as_view(), name="sales-import"),
]
