"""The partner API, mounted at /api/v1/partner/ (URL names ``api:partner-…``, the scope of a partner's token)."""

from django.urls import include, path

urlpatterns = [
    path("", include("partners.api.offers")),
    path("", include("partners.api.loans")),
    path("", include("partners.api.money")),
]
