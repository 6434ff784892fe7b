"""The merchant's loans over the API: the list (cursor pages) and one loan with its repayment schedule.

Merchants only: an officer or a partner gets 403 (partners will see the loans they co-fund once co-lending
exists; until then they have none). Another merchant's loan answers 404, the same as a missing one.
"""

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.filters import states_filter
from core.api.pagination import DefaultCursorPagination
from core.api.permissions import IsMerchantOwner
from core.formatting import masked_account
from lending.catalogue.models import RepaymentMethodChoice
from lending.servicing.api import examples
from lending.servicing.models import Disbursement, Loan, LoanState
from lending.servicing.selectors.loans import loan_paid_out, loan_with_schedule, loans_list

MONEY = {"max_digits": 14, "decimal_places": 2}


class LoanPayoutSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Disbursement.Status.choices,
        help_text="pending or sending: on its way; succeeded: paid; failed: delayed, being handled by our team.",
    )
    amount = serializers.DecimalField(**MONEY)
    bank_name = serializers.CharField()
    account = serializers.CharField(help_text="The settlement account, masked to its last four digits.")
    completed_at = serializers.DateTimeField(allow_null=True)


class LoanInstalmentSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = serializers.DecimalField(source="principal_due", **MONEY)
    interest = serializers.DecimalField(source="interest_due", **MONEY)
    fee = serializers.DecimalField(source="fee_due", **MONEY)
    payment = serializers.DecimalField(source="payment_due", **MONEY)
    paid = serializers.SerializerMethodField(help_text="Paid so far of this instalment.")
    status = serializers.CharField()

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_paid(self, instalment) -> str:
        return f"{instalment.principal_paid + instalment.interest_paid + instalment.fee_paid:.2f}"


class LoanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.IntegerField(source="application_id")
    product = serializers.CharField(source="product.code")
    state = serializers.ChoiceField(choices=LoanState.choices)
    principal = serializers.DecimalField(**MONEY)
    net_disbursement = serializers.DecimalField(**MONEY, help_text="What is paid out, after any deducted fee.")
    apr = serializers.DecimalField(max_digits=7, decimal_places=2, help_text="Annual percentage rate (IRR), in %.")
    repayment_method = serializers.ChoiceField(choices=RepaymentMethodChoice.choices)
    term = serializers.IntegerField()
    term_unit = serializers.CharField()
    start_date = serializers.DateField()
    maturity_date = serializers.DateField()
    first_due_date = serializers.DateField(allow_null=True)
    payout = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True, help_text="When the payout reached the merchant.")

    @extend_schema_field(LoanPayoutSerializer(allow_null=True))
    def get_payout(self, loan: Loan) -> dict | None:
        disbursement = loan_paid_out(loan)
        if disbursement is None:
            return None
        return LoanPayoutSerializer(
            {
                "status": disbursement.status,
                "amount": disbursement.amount,
                "bank_name": disbursement.bank_name,
                "account": masked_account(disbursement.account_number),
                "completed_at": disbursement.completed_at,
            }
        ).data


class LoanDetailSerializer(LoanSerializer):
    schedule = LoanInstalmentSerializer(source="instalments.all", many=True)


class LoanFilter(django_filters.FilterSet):
    state = states_filter(LoanState.choices)
    product = django_filters.CharFilter(field_name="product__code", help_text="A product's code.")

    class Meta:
        model = Loan
        fields = ["state", "product"]


class LoanListApi(generics.ListAPIView):
    """The requesting merchant's loans, newest first."""

    permission_classes = [IsMerchantOwner]
    serializer_class = LoanSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = LoanFilter

    def get_queryset(self):
        return loans_list(user=self.request.user)

    @extend_schema(
        summary="List the merchant's loans",
        description="Newest first, in cursor pages (50 a page, `page_size` up to 200), filtered by state and "
        "product. Merchants only; officers and partners get 403 (a partner's co-funded loans come later).",
        responses={200: LoanSerializer(many=True), 403: OpenApiResponse(description="The account has no merchant.")},
        examples=[examples.LOAN_LISTED],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class LoanDetailApi(APIView):
    permission_classes = [IsMerchantOwner]

    @extend_schema(
        summary="Get one loan with its repayment schedule",
        description="Another merchant's loan answers 404, like a missing one.",
        examples=[examples.LOAN_DETAIL],
        responses={
            200: LoanDetailSerializer,
            403: OpenApiResponse(description="The account has no merchant."),
            404: OpenApiResponse(description="No such loan of yours."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = loan_with_schedule(user=request.user, pk=pk)
        if loan is None:
            raise NotFound
        return Response(LoanDetailSerializer(loan).data)


urlpatterns = [
    path("loans/", LoanListApi.as_view(), name="loan-list"),
    path("loans/<int:pk>/", LoanDetailApi.as_view(), name="loan-detail"),
]
