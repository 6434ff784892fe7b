from django.urls import path

from lending.catalogue.api import products

urlpatterns = [
    path("products/", products.ProductListApi.as_view(), name="product-list"),
    path("products/<str:code>/", products.ProductDetailApi.as_view(), name="product-detail"),
    path("quotes/", products.QuoteCreateApi.as_view(), name="quote-create"),
]
