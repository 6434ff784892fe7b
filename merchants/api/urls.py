from django.urls import path

from merchants.api import profile, sales

urlpatterns = [
    path("merchant/", profile.MerchantProfileApi.as_view(), name="merchant-profile"),
    path("sales/", sales.SalesImportApi.as_view(), name="sales-import"),
    path("platform/sales/", sales.SalesFeedApi.as_view(), name="platform-sales-feed"),
]
