"""Role checks answer 403; someone else's object answers the same 404 as a missing one."""

import pytest
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.api.permissions import (
    IsMerchantOwner,
    IsObjectOwnerOr404,
    IsOfficer,
    IsPartner,
    OwnedQuerysetMixin,
    get_owned_object_or_404,
)
from merchants.models import SalesDay
from merchants.tests.factories import SalesDayFactory


class _MerchantOnlyApi(APIView):
    permission_classes = [IsMerchantOwner]

    def get(self, request):
        return Response({"merchant": request.user.merchant.pk})


class _PartnerOnlyApi(APIView):
    permission_classes = [IsPartner]

    def get(self, request):
        return Response({"ok": True})


class _OfficerOnlyApi(APIView):
    permission_classes = [IsOfficer]

    def get(self, request):
        return Response({"ok": True})


class _DayRow(serializers.ModelSerializer):
    class Meta:
        model = SalesDay
        fields = ["id", "date", "gross_sales"]


class _DaysApi(OwnedQuerysetMixin, generics.ListAPIView):
    queryset = SalesDay.objects.order_by("id")
    serializer_class = _DayRow


class _DayApi(OwnedQuerysetMixin, generics.RetrieveAPIView):
    queryset = SalesDay.objects.all()
    serializer_class = _DayRow


class _DayPlainApi(APIView):
    def get(self, request, pk):
        day = get_owned_object_or_404(SalesDay.objects.all(), user=request.user, pk=pk)
        return Response(_DayRow(day).data)


class _DayUnscopedApi(generics.RetrieveAPIView):
    # A view that cannot scope its queryset still answers 404 thanks to the object-level backstop.
    queryset = SalesDay.objects.all()
    serializer_class = _DayRow
    permission_classes = [IsObjectOwnerOr404]


urlpatterns = [
    path("merchant-only/", _MerchantOnlyApi.as_view()),
    path("partner-only/", _PartnerOnlyApi.as_view()),
    path("officer-only/", _OfficerOnlyApi.as_view()),
    path("days/", _DaysApi.as_view()),
    path("days/<int:pk>/", _DayApi.as_view()),
    path("plain-days/<int:pk>/", _DayPlainApi.as_view()),
    path("unscoped-days/<int:pk>/", _DayUnscopedApi.as_view()),
]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/merchant-only/", {"merchant"}),
        ("/partner-only/", {"partner"}),
        ("/officer-only/", {"loan_officer", "senior_officer", "risk_manager"}),
    ],
)
def test_role_checks_let_in_only_their_role(
    url, allowed, merchant, partner_user, loan_officer, senior_officer, risk_manager
):
    users = {
        "merchant": merchant.owner,
        "partner": partner_user,
        "loan_officer": loan_officer,
        "senior_officer": senior_officer,
        "risk_manager": risk_manager,
    }
    outcomes = {name: _client(user).get(url).status_code for name, user in users.items()}
    assert outcomes == {name: 200 if name in allowed else 403 for name in users}
    assert _client().get(url).status_code == 401


def test_a_merchant_owner_role_without_a_merchant_is_not_a_merchant_owner(merchant_owner):
    response = _client(merchant_owner).get("/merchant-only/")
    assert response.status_code == 403
    assert response.json()["message"] == "Only a merchant's owner can do this."


def test_a_list_shows_only_the_requesters_rows(merchant, other_merchant):
    mine = SalesDayFactory(merchant=merchant)
    SalesDayFactory(merchant=other_merchant)
    assert [row["id"] for row in _client(merchant.owner).get("/days/").json()["results"]] == [mine.pk]


@pytest.mark.parametrize("prefix", ["/days/", "/plain-days/", "/unscoped-days/"])
def test_someone_elses_object_answers_exactly_like_a_missing_one(prefix, merchant, other_merchant):
    mine = SalesDayFactory(merchant=merchant)
    theirs = SalesDayFactory(merchant=other_merchant)
    client = _client(merchant.owner)

    own = client.get(f"{prefix}{mine.pk}/")
    not_mine = client.get(f"{prefix}{theirs.pk}/")
    missing = client.get(f"{prefix}{theirs.pk + 1000}/")

    assert own.status_code == 200
    assert own.json()["id"] == mine.pk
    assert not_mine.status_code == missing.status_code == 404
    assert not_mine.content == missing.content
