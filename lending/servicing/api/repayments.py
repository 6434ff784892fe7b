"""Repayments over the API: a loan's payments, posting a repayment, the payoff quote, and prepayments.

Who may call: the loan's merchant. A partner bank will post repayments for the loans it co-funds once
co-lending exists; no loan is partner-funded yet, so a partner (and an officer) finds no loan here: 404, the same
as another merchant's loan or a missing one. POSTs honour ``Idempotency-Key``; the body's ``external_reference``
is idempotent on its own too (the same reference and amount return the first payment with 200).
"""

from datetime import date
from decimal import Decimal

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from lending.servicing.models import Loan, Payment, PaymentSource
from lending.servicing.selectors.repayments import loan_for_owner, payments_of_loan
from lending.servicing.services.repayments import (
    KEEP_INSTALMENT,
    KEEP_TERM,
    loan_pay_off,
    loan_prepay_partial,
    payment_record,
    payoff_quote,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class AllocationSerializer(serializers.Serializer):
    instalment = serializers.IntegerField(source="instalment.number", allow_null=True, default=None)
    component = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)


class PaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    received_on = serializers.DateField()
    source = serializers.ChoiceField(choices=PaymentSource.choices)
    kind = serializers.ChoiceField(choices=Payment.Kind.choices)
    external_reference = serializers.CharField()
    allocations = AllocationSerializer(many=True, source="allocations.all")
    created_at = serializers.DateTimeField()


class PaymentPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PaymentSerializer(many=True)


class PayoffQuoteSerializer(serializers.Serializer):
    loan = serializers.IntegerField()
    valid_on = serializers.DateField()
    principal = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    fees = serializers.DecimalField(**MONEY)
    penalties = serializers.DecimalField(**MONEY)
    prepayment_fee = serializers.DecimalField(**MONEY)
    credit = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


def _own_loan(request: Request, pk: int) -> Loan:
    loan = loan_for_owner(user=request.user, pk=pk)
    if loan is None:
        raise NotFound
    return loan


def _answer(payment: Payment, created_before: bool) -> Response:
    # A repeated reference returns the first payment: 200, not 201, so a client can tell nothing new happened.
    code = status.HTTP_200_OK if created_before else status.HTTP_201_CREATED
    fresh = payments_of_loan(loan=payment.loan).get(pk=payment.pk)
    return Response(PaymentSerializer(fresh).data, status=code)


def _known(source: str, reference: str) -> bool:
    return Payment.objects.filter(source=source, external_reference=reference).exists()


class LoanPaymentsApi(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
        received_on = serializers.DateField(required=False, help_text="Defaults to today.")
        external_reference = serializers.CharField(max_length=64)

    @extend_schema(
        summary="List a loan's payments, newest first, with where each went",
        responses={200: PaymentPageSerializer, 404: OpenApiResponse(description="No such loan of yours.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        paginator = DefaultCursorPagination()
        paginator.ordering = ("-received_on", "-id")
        page = paginator.paginate_queryset(payments_of_loan(loan=loan), request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    @extend_schema(
        summary="Post a repayment received for a loan",
        description="Idempotent by external_reference: the same reference and amount return the first payment (200); "
        "the same reference with another amount is refused (409).",
        request=InputSerializer,
        responses={
            201: PaymentSerializer,
            200: PaymentSerializer,
            400: OpenApiResponse(description="Invalid input; `fields` names each field."),
            404: OpenApiResponse(description="No such loan of yours."),
            409: OpenApiResponse(description="The loan takes no payments, or the reference was used for another."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        data = self._input(request)
        reference = data["external_reference"]
        before = _known(PaymentSource.API, reference)
        payment = payment_record(
            loan=loan,
            amount=data["amount"],
            received_on=data.get("received_on") or timezone.localdate(),
            source=PaymentSource.API,
            external_reference=reference,
            by=request.user,
        )
        return _answer(payment, before)

    def _input(self, request: Request) -> dict:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class PayoffQuoteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="What pays the loan off in full on a date",
        parameters=[OpenApiParameter("on", date, description="YYYY-MM-DD; defaults to today. Valid that day only.")],
        responses={
            200: PayoffQuoteSerializer,
            400: OpenApiResponse(description="A bad date."),
            404: OpenApiResponse(description="No such loan of yours."),
            409: OpenApiResponse(description="The contract does not allow early repayment, or the loan is closed."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        raw = request.query_params.get("on")
        if raw:
            try:
                on = date.fromisoformat(raw)
            except ValueError:
                raise serializers.ValidationError({"on": [_("Give the date as YYYY-MM-DD.")]}) from None
        else:
            on = timezone.localdate()
        return Response(PayoffQuoteSerializer(payoff_quote(loan=loan, on=on).as_dict()).data)


class LoanPrepaymentsApi(IdempotentMixin, APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        full = serializers.BooleanField(default=False, help_text="true: pay the loan off in full today.")
        amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
        external_reference = serializers.CharField(max_length=64)
        keep = serializers.ChoiceField(
            choices=[KEEP_TERM, KEEP_INSTALMENT],
            default=KEEP_TERM,
            help_text="term: keep the term, lower the instalment; instalment: keep the instalment, shorten the term.",
        )

    @extend_schema(
        summary="Repay early: in full (`full: true`) or in part, re-amortising the rest",
        request=InputSerializer,
        responses={
            201: PaymentSerializer,
            200: PaymentSerializer,
            400: OpenApiResponse(description="Invalid input, or an amount below the payoff quote."),
            404: OpenApiResponse(description="No such loan of yours."),
            409: OpenApiResponse(description="Not allowed by the contract or the loan's state, or arrears unpaid."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reference = data["external_reference"]
        before = _known(PaymentSource.API, reference)
        common = {
            "loan": loan,
            "amount": data["amount"],
            "on": timezone.localdate(),
            "external_reference": reference,
            "by": request.user,
            "source": PaymentSource.API,
        }
        payment = loan_pay_off(**common) if data["full"] else loan_prepay_partial(keep=data["keep"], **common)
        return _answer(payment, before)


urlpatterns = [
    path("loans/<int:pk>/payments/", LoanPaymentsApi.as_view(), name="loan-payments"),
    path("loans/<int:pk>/payoff-quote/", PayoffQuoteApi.as_view(), name="loan-payoff-quote"),
    path("loans/<int:pk>/prepayments/", LoanPrepaymentsApi.as_view(), name="loan-prepayments"),
]
