"""The partner's portfolio: the loans it co-funds, each with its share and what of that share is still owed.

Only loans the partner holds a share in; a platform-only loan or another partner's answers 404, like a missing one.
"""

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import states_filter
from core.api.pagination import DefaultCursorPagination
from lending.servicing.models import LoanState
from partners.api import examples
from partners.api.permissions import IsFundingPartner, request_partner
from partners.models import LoanShare
from partners.selectors.partner_api import partner_loan, partner_loan_shares, partner_portfolio

MONEY = {"max_digits": 14, "decimal_places": 2}
NOT_A_PARTNER = OpenApiResponse(description="The account is not a funding partner's, or a signature is missing.")


class PortfolioLoanSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="loan.id")
    application = serializers.IntegerField(source="loan.application_id")
    product = serializers.CharField(source="loan.product.code")
    state = serializers.ChoiceField(source="loan.state", choices=LoanState.choices)
    days_past_due = serializers.IntegerField(source="loan.days_past_due")
    principal = serializers.DecimalField(source="loan.principal", **MONEY, help_text="The whole loan's principal.")
    start_date = serializers.DateField(source="loan.start_date")
    maturity_date = serializers.DateField(source="loan.maturity_date")
    activated_at = serializers.DateTimeField(source="loan.activated_at", allow_null=True)
    share = serializers.DecimalField(source="share.share", max_digits=5, decimal_places=4)
    share_principal = serializers.DecimalField(source="share.principal", **MONEY, help_text="Your part of it.")
    interest_rate = serializers.DecimalField(
        source="share.interest_rate", max_digits=7, decimal_places=6, allow_null=True, help_text="Yours, a year."
    )
    agreement_version = serializers.IntegerField(source="share.agreement.version", allow_null=True)
    outstanding_principal = serializers.DecimalField(**MONEY, help_text="The whole loan's principal still owed.")
    outstanding_share_principal = serializers.DecimalField(**MONEY, help_text="Your share of it, to the fen.")


class PortfolioFilter(django_filters.FilterSet):
    state = states_filter(LoanState.choices, field_name="loan__state")

    class Meta:
        model = LoanShare
        fields = ["state"]


class PartnerLoanListApi(generics.ListAPIView):
    """The requesting partner's co-funded loans, newest share first."""

    permission_classes = [IsFundingPartner]
    serializer_class = PortfolioLoanSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = PortfolioFilter

    def get_queryset(self):
        return partner_loan_shares(partner=request_partner(self.request))

    @extend_schema(
        operation_id="partner_loans_list",
        summary="List your co-funded loans (your portfolio)",
        description="Each loan you hold a share in, with your share, its principal, what of it is still owed, the "
        "loan's state and days past due. Cursor pages (50 a page, `page_size` up to 200), filtered by the "
        "loan's state.",
        responses={200: PortfolioLoanSerializer(many=True), 403: NOT_A_PARTNER},
        examples=[examples.LOANS],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        shares = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = partner_portfolio(shares=list(shares))
        return self.get_paginated_response(PortfolioLoanSerializer(rows, many=True).data)


class PartnerLoanDetailApi(APIView):
    permission_classes = [IsFundingPartner]

    @extend_schema(
        operation_id="partner_loans_retrieve",
        summary="Get one of your co-funded loans",
        description="A loan you hold no share in (the platform's alone, or another partner's) answers 404.",
        responses={
            200: PortfolioLoanSerializer,
            403: NOT_A_PARTNER,
            404: OpenApiResponse(description="No such loan of yours."),
        },
        examples=[examples.LOAN_DETAIL],
    )
    def get(self, request: Request, pk: int) -> Response:
        row = partner_loan(partner=request_partner(request), pk=pk)
        if row is None:
            raise NotFound
        return Response(PortfolioLoanSerializer(row).data)


urlpatterns = [
    path("loans/", PartnerLoanListApi.as_view(), name="partner-loan-list"),
    path("loans/<int:pk>/", PartnerLoanDetailApi.as_view(), name="partner-loan-detail"),
]
