"""Repayments over the API: a loan's payments, the payoff quote, and pay now (a collection from the rail).

Who may call: the loan's merchant; anyone else finds no loan (404, the same as a missing one). No client posts a
payment, a prepayment or a payoff: money is booked only when a rail confirms it or an officer records a bank
transfer. The merchant asks for a collection (``POST .../collections/``, honouring ``Idempotency-Key``, and
idempotent by its own ``reference`` on the loan) and sees it pending until the rail confirms or fails it.
"""

from datetime import date

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

from core.api.fields import AmountField
from core.api.idempotency import IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from lending.servicing.api import examples
from lending.servicing.models import CollectionRequest, Loan, Payment, PaymentSource
from lending.servicing.selectors.repayments import collections_of_loan, loan_for_owner, payments_of_loan
from lending.servicing.services.collection_requests import collection_request
from lending.servicing.services.repayments import KEEP_INSTALMENT, KEEP_TERM, payoff_quote

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


class LoanPaymentsApi(APIView):
    """Payments are booked by the rails and officers, never posted by a client: this lists them."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="List a loan's payments, newest first, with where each went",
        examples=[examples.PAYMENTS],
        responses={200: PaymentPageSerializer, 404: OpenApiResponse(description="No such loan of yours.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        paginator = DefaultCursorPagination()
        paginator.ordering = ("-received_on", "-id")
        page = paginator.paginate_queryset(payments_of_loan(loan=loan), request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)


class CollectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.ChoiceField(choices=CollectionRequest.Purpose.choices)
    keep = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=CollectionRequest.Status.choices)
    failure_reason = serializers.CharField()
    requested_on = serializers.DateField()
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)
    payment = serializers.IntegerField(source="payment_id", allow_null=True)


class CollectionPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CollectionSerializer(many=True)


class LoanCollectionsApi(IdempotentMixin, APIView):
    """Pay now: ask for money from the merchant's settlement account; it is a payment once the rail confirms."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        purpose = serializers.ChoiceField(
            choices=CollectionRequest.Purpose.choices,
            help_text="due: what is due now; other: an amount up to the payoff; payoff: the whole loan at today's "
            "quote; prepay: repay part early and re-amortise.",
        )
        amount = AmountField(
            required=False,
            help_text='Yuan as a string, e.g. "1200.50". Required for other and prepay; for payoff it must equal '
            "today's quote when given.",
        )
        keep = serializers.ChoiceField(
            choices=[KEEP_TERM, KEEP_INSTALMENT],
            default=KEEP_TERM,
            help_text="For prepay. term: keep the term, lower the instalment; instalment: keep it, shorten the term.",
        )
        reference = serializers.CharField(
            max_length=64, help_text="Yours, unique on the loan: the same reference again answers with the first."
        )

    @extend_schema(
        summary="List a loan's collection requests (pay now), newest first",
        operation_id="loans_collections_list",
        examples=[examples.COLLECTIONS],
        responses={200: CollectionPageSerializer, 404: OpenApiResponse(description="No such loan of yours.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        paginator = DefaultCursorPagination()
        paginator.ordering = ("-created_at", "-id")
        page = paginator.paginate_queryset(collections_of_loan(loan=loan), request, view=self)
        return paginator.get_paginated_response(CollectionSerializer(page, many=True).data)

    @extend_schema(
        summary="Pay now: ask the rail to collect from the settlement account",
        operation_id="loans_collections_create",
        description="Checks the amount against what is owed before anything is asked. The answer is pending: the "
        "collection becomes a payment when the rail confirms it (see the loan's payments). The same reference "
        "answers with the first request (200); one collection per loan may be open at a time (409).",
        request=InputSerializer,
        examples=[*examples.COLLECTION_REQUESTS, examples.COLLECTION_ASKED],
        responses={
            202: CollectionSerializer,
            200: CollectionSerializer,
            400: OpenApiResponse(description="Invalid input; `fields` names each field."),
            404: OpenApiResponse(description="No such loan of yours."),
            409: OpenApiResponse(
                description="The loan takes no payments, a collection is pending, or the reference "
                "was used for another."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        loan = _own_loan(request, pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        requested = collection_request(
            loan=loan,
            purpose=data["purpose"],
            amount=data.get("amount"),
            keep=data["keep"],
            reference=data["reference"],
            by=request.user,
        )
        code = status.HTTP_202_ACCEPTED if requested.created else status.HTTP_200_OK
        fresh = collections_of_loan(loan=loan).get(pk=requested.collection.pk)
        return Response(CollectionSerializer(fresh).data, status=code)


class LoanCollectionApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One collection request of a loan: pending, confirmed (with its payment) or failed (and why)",
        operation_id="loans_collections_retrieve",
        examples=[examples.COLLECTION_CONFIRMED],
        responses={200: CollectionSerializer, 404: OpenApiResponse(description="No such loan or request of yours.")},
    )
    def get(self, request: Request, pk: int, collection_id: int) -> Response:
        loan = _own_loan(request, pk)
        collection = collections_of_loan(loan=loan).filter(pk=collection_id).first()
        if collection is None:
            raise NotFound
        return Response(CollectionSerializer(collection).data)


class PayoffQuoteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="What pays the loan off in full on a date",
        examples=[examples.PAYOFF_QUOTE],
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


urlpatterns = [
    path("loans/<int:pk>/payments/", LoanPaymentsApi.as_view(), name="loan-payments"),
    path("loans/<int:pk>/payoff-quote/", PayoffQuoteApi.as_view(), name="loan-payoff-quote"),
    path("loans/<int:pk>/collections/", LoanCollectionsApi.as_view(), name="loan-collections"),
    path("loans/<int:pk>/collections/<int:collection_id>/", LoanCollectionApi.as_view(), name="loan-collection"),
]
