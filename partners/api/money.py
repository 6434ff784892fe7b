"""Money a partner is owed: each distribution of a repayment to its share, and each day's settlement (with the CSV
statement). Only the partner's own rows; another partner's settlement answers 404, like a missing one."""

import django_filters
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import choice_filter
from core.api.pagination import DefaultCursorPagination
from lending.servicing.models import Allocation
from partners.api.permissions import IsFundingPartner, request_partner
from partners.models import Distribution, PartnerSettlement, SettlementStatus
from partners.selectors.money import partner_distributions, partner_settlements
from partners.services.settlements import settlement_statement_csv

MONEY = {"max_digits": 14, "decimal_places": 2}
NOT_A_PARTNER = OpenApiResponse(description="The account is not a funding partner's, or a signature is missing.")

DISTRIBUTION = {
    "id": 90211,
    "loan": 311,
    "payment": 5120,
    "component": "interest",
    "amount": "131.25",
    "value_date": "2027-01-03",
    "business_date": "2027-01-03",
    "settlement": 48,
}
SETTLEMENT = {
    "id": 48,
    "business_date": "2027-01-03",
    "principal": "11593.32",
    "interest": "131.25",
    "fees": "0.00",
    "penalties": "0.00",
    "collected": "11724.57",
    "distribution_count": 2,
    "outstanding_principal": "23406.68",
    "service_fee": "0.32",
    "net_payable": "11724.25",
    "status": "ready",
    "paid_at": None,
}


class DistributionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    loan = serializers.IntegerField(source="loan_id")
    payment = serializers.IntegerField(source="payment_id")
    component = serializers.ChoiceField(choices=Allocation.Component.choices)
    amount = serializers.DecimalField(**MONEY, help_text="Your part; negative when interest is credited back.")
    value_date = serializers.DateField(help_text="The day the payment was booked.")
    business_date = serializers.DateField(help_text="The day it was distributed: it is settled with that day.")
    settlement = serializers.IntegerField(source="settlement_id", allow_null=True)


class SettlementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    business_date = serializers.DateField()
    principal = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY)
    penalties = serializers.DecimalField(**MONEY, help_text="Late fees.")
    collected = serializers.DecimalField(**MONEY, help_text="The day's distributions to you, in total.")
    distribution_count = serializers.IntegerField()
    outstanding_principal = serializers.DecimalField(**MONEY, help_text="Your principal outstanding at day end.")
    service_fee = serializers.DecimalField(**MONEY, help_text="The platform's fee for the day.")
    net_payable = serializers.DecimalField(**MONEY, help_text="collected − service_fee: what the platform pays you.")
    status = serializers.ChoiceField(choices=SettlementStatus.choices)
    paid_at = serializers.DateTimeField(allow_null=True)


class DistributionFilter(django_filters.FilterSet):
    component = choice_filter(Allocation.Component.choices)
    loan = django_filters.NumberFilter(field_name="loan_id", help_text="One loan's id.")
    business_date_from = django_filters.DateFilter(field_name="business_date", lookup_expr="gte")
    business_date_to = django_filters.DateFilter(field_name="business_date", lookup_expr="lte")

    class Meta:
        model = Distribution
        fields = ["component", "loan", "business_date_from", "business_date_to"]


class SettlementFilter(django_filters.FilterSet):
    status = choice_filter(SettlementStatus.choices)

    class Meta:
        model = PartnerSettlement
        fields = ["status"]


class PartnerDistributionListApi(generics.ListAPIView):
    permission_classes = [IsFundingPartner]
    serializer_class = DistributionSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = DistributionFilter

    def get_queryset(self):
        return partner_distributions(partner=request_partner(self.request))

    @extend_schema(
        operation_id="partner_distributions_list",
        summary="List the repayments distributed to you",
        description="Each confirmed repayment of a loan you co-fund is shared among its lenders to the fen: "
        "principal pro rata to outstanding share principal, interest at your own rate, fees by the agreement. "
        "One row per component of a payment, newest first; filter by component, loan and business date.",
        responses={200: DistributionSerializer(many=True), 403: NOT_A_PARTNER},
        examples=[OpenApiExample("Interest of a repayment", value=DISTRIBUTION, response_only=True)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class PartnerSettlementListApi(generics.ListAPIView):
    permission_classes = [IsFundingPartner]
    serializer_class = SettlementSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = SettlementFilter

    def get_queryset(self):
        return partner_settlements(partner=request_partner(self.request))

    @extend_schema(
        operation_id="partner_settlements_list",
        summary="List your daily settlements",
        description="What the platform owes you for each business day's collections, less its service fee; newest "
        "first, filtered by status (ready: to be paid; paid: transferred to your funding account). A day is "
        "settled once, after it is over; its figures never change.",
        responses={200: SettlementSerializer(many=True), 403: NOT_A_PARTNER},
        examples=[OpenApiExample("A day's settlement", value=SETTLEMENT, response_only=True)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


def _own_settlement(request: Request, pk: int):
    settlement = partner_settlements(partner=request_partner(request)).select_related("partner").filter(pk=pk).first()
    if settlement is None:
        raise NotFound
    return settlement


class PartnerSettlementDetailApi(APIView):
    permission_classes = [IsFundingPartner]

    @extend_schema(
        operation_id="partner_settlements_retrieve",
        summary="Get one daily settlement",
        responses={
            200: SettlementSerializer,
            403: NOT_A_PARTNER,
            404: OpenApiResponse(description="No such settlement of yours."),
        },
        examples=[OpenApiExample("A day's settlement", value=SETTLEMENT, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(SettlementSerializer(_own_settlement(request, pk)).data)


class PartnerSettlementStatementApi(APIView):
    permission_classes = [IsFundingPartner]

    @extend_schema(
        operation_id="partner_settlements_statement_retrieve",
        summary="Download a settlement's statement (CSV)",
        description="One line per distribution, then the totals, the service fee and the net payable; labels in "
        "Chinese and English.",
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            403: NOT_A_PARTNER,
            404: OpenApiResponse(description="No such settlement of yours."),
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        settlement = _own_settlement(request, pk)
        response = HttpResponse(settlement_statement_csv(settlement=settlement), content_type="text/csv; charset=utf-8")
        filename = f"settlement-{settlement.partner.code}-{settlement.business_date.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


urlpatterns = [
    path("distributions/", PartnerDistributionListApi.as_view(), name="partner-distribution-list"),
    path("settlements/", PartnerSettlementListApi.as_view(), name="partner-settlement-list"),
    path("settlements/<int:pk>/", PartnerSettlementDetailApi.as_view(), name="partner-settlement-detail"),
    path(
        "settlements/<int:pk>/statement.csv",
        PartnerSettlementStatementApi.as_view(),
        name="partner-settlement-statement",
    ),
]
