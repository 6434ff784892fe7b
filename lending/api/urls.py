from django.urls import include, path

from lending.api import views

urlpatterns = [
    path("products/", views.ProductListApi.as_view(), name="product-list"),
    path("products/<str:code>/", views.ProductDetailApi.as_view(), name="product-detail"),
    path("quotes/", views.QuoteCreateApi.as_view(), name="quote-create"),
    path("", include("lending.api.applications")),
    path("", include("lending.api.contracts")),
    path("", include("lending.api.loans")),
    path("", include("lending.api.repayments")),
    path("", include("lending.api.servicing")),
]
