from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.web.views import admin_login
from core.web.views import healthz, landing
from lending.servicing.admin.collections import collections_urls
from lending.servicing.web.dashboard import BorrowingDashboardView
from partners.api.claims import claims_urlpatterns
from risk.admin.dashboard import dashboard_urls
from underwriting.admin.monitoring import monitoring_urls

api_v1 = [
    path("auth/", include("accounts.api.urls")),
    path("", include("merchants.api.urls")),
    path("", include("lending.catalogue.api.urls")),
    path("", include("lending.origination.api.urls")),
    path("", include("lending.servicing.api.urls")),
    path("", include("core.api.jobs")),
    path("", include("risk.api.urls")),
    path("partner/", include("partners.api.urls")),
    # The partner API (``/api/v1/partner/``): insurers' claims.
    path("", include(claims_urlpatterns)),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the page needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    # Visitors land on what the portal offers; signed-in people are sent on to their dashboard.
    path("", landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/security/", include("accounts.web.urls")),
    path("accounts/", include("allauth.urls")),
    # The dashboard with the merchant's borrowing: lending extends merchants' view (which cannot know about loans).
    path("merchant/", BorrowingDashboardView.as_view()),
    path("merchant/", include("merchants.web.urls")),
    path("loans/", include("lending.urls")),
    # Staff sign in through allauth, so the second factor and the login throttles apply to them too.
    path("admin/login/", admin_login),
    path("admin/underwriting/monitoring/", include(monitoring_urls())),
    path("admin/lending/collections/", include(collections_urls())),
    path("admin/risk/dashboard/", include(dashboard_urls())),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
]

handler404 = "core.web.views.not_found"

admin.site.site_header = "商户贷 · Merchant Loans"
admin.site.site_title = "Merchant Loans back office"
admin.site.index_title = "Back office"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.STATIC_URL, document_root=settings.STATIC_ROOT)
