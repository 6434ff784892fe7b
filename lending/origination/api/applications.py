"""Loan applications over the API: apply (a draft, or ``"submit": true`` for the decision in the same answer),
submit a draft (the decision comes back at once), accept, withdraw.

Merchants only: an officer or a partner has no merchant and gets 403. Another merchant's application answers 404,
like a missing one. A step the application's state does not allow answers 409 with the reason. Every POST honours
``Idempotency-Key``; applying and submitting are limited per user (``APPLICATIONS_THROTTLES``). The contract and
signing endpoints are in ``lending.origination.api.contracts``.
"""

import django_filters
from django.urls import path
from django.utils import translation
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.exceptions import Conflict
from core.api.fields import AmountField, StrictBooleanField
from core.api.filters import states_filter
from core.api.idempotency import IdempotentMixin
from core.api.pagination import DefaultCursorPagination
from core.api.permissions import IsMerchantOwner, get_owned_object_or_404
from core.api.throttling import APPLICATIONS_THROTTLES
from lending.catalogue.models import RepaymentMethodChoice
from lending.catalogue.services.products import product_by_code
from lending.origination.api import examples
from lending.origination.models import ApplicationState, LoanApplication
from lending.origination.selectors.applications import applications_for_owner
from lending.origination.services.applications import (
    ApplicationConflict,
    application_accept,
    application_apply,
    application_create,
    application_submit,
    application_withdraw,
)
from underwriting.choices import GRADES, Outcome

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 9, "decimal_places": 6}
APR = {"max_digits": 7, "decimal_places": 2}
_NO_MERCHANT = OpenApiResponse(description="The account has no merchant (officers, partners).")
_NOT_YOURS = OpenApiResponse(description="No such application of yours.")


class ApplicationReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.CharField(help_text="rule, score, referral, officer, or hint (what would change the outcome).")
    message = serializers.CharField(help_text="In the request's language.")
    message_en = serializers.CharField()
    message_zh = serializers.CharField()


class ApplicationScheduleLineSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    fee = serializers.DecimalField(**MONEY)
    payment = serializers.DecimalField(**MONEY)
    balance = serializers.DecimalField(**MONEY)


class ApplicationOfferSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)
    term = serializers.IntegerField(allow_null=True, help_text="Empty for a sales-share advance.")
    repayment_method = serializers.ChoiceField(choices=RepaymentMethodChoice.choices)
    grade = serializers.ChoiceField(choices=GRADES)
    price = serializers.DecimalField(**RATE, help_text="As the product's price basis says (annual rate, …).")
    apr = serializers.DecimalField(**APR, help_text="Annual percentage rate (IRR method, fees included), in %.")
    net_disbursement = serializers.DecimalField(**MONEY, help_text="What is paid out, after any deducted fee.")
    insurance_premium = serializers.DecimalField(
        **MONEY,
        help_text="The credit-insurance premium the borrower pays (withheld from the payout, counted in the APR); "
        "0.00 when the borrower pays none.",
    )
    total_interest = serializers.DecimalField(**MONEY)
    total_fees = serializers.DecimalField(**MONEY)
    total_cost_of_credit = serializers.DecimalField(**MONEY)
    total_repayable = serializers.DecimalField(**MONEY)
    expires_at = serializers.DateTimeField()
    is_counter_offer = serializers.BooleanField(help_text="An officer offered other terms than those asked for.")
    schedule = ApplicationScheduleLineSerializer(many=True)


class ApplicationDecisionSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    grade = serializers.CharField(allow_blank=True)
    apr = serializers.DecimalField(**APR, allow_null=True, help_text="The offer's APR when approved, in %.")
    credit_line = serializers.DecimalField(**MONEY, help_text="What the merchant's sales support.")
    reasons = ApplicationReasonSerializer(many=True)
    decided_at = serializers.DateTimeField()


class ApplicationLenderSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"platform", or the partner bank\'s code.')
    legal_name_zh = serializers.CharField()
    legal_name_en = serializers.CharField()
    share_percent = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Its share of the principal.")


class ApplicationSerializer(serializers.Serializer):
    """An application as its merchant sees it; everything but the terms asked for is the server's."""

    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ApplicationState.choices)
    state_label = serializers.CharField(source="get_state_display")
    product = serializers.CharField(source="product.code")
    amount = serializers.DecimalField(**MONEY)
    term = serializers.IntegerField(allow_null=True, help_text="Empty for a sales-share advance.")
    term_unit = serializers.CharField(source="product.term_unit")
    repayment_method = serializers.ChoiceField(choices=RepaymentMethodChoice.choices)
    average_daily_sales = serializers.DecimalField(
        **MONEY, allow_null=True, help_text="Sales-share advances: the daily sales the schedule is projected from."
    )
    offer = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()
    decline_reasons = serializers.SerializerMethodField(
        help_text="Why it was declined, and what would change the outcome (kind hint)."
    )
    documents_requested = serializers.CharField(help_text="What the reviewing officer asks the merchant for.")
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    lenders = ApplicationLenderSerializer(
        many=True,
        help_text=(
            "Who lends, once settled after acceptance: the platform and any partner bank that co-funds it, each with "
            "its share. Empty while a partner bank decides (the contract is made once they are settled)."
        ),
    )
    closed_at = serializers.DateTimeField(allow_null=True, help_text="When it was withdrawn or its offer expired.")

    @extend_schema_field(ApplicationOfferSerializer(allow_null=True))
    def get_offer(self, application: LoanApplication) -> dict | None:
        if application.offer_amount is None or not application.offer_quote:
            return None
        stored = application.offer_quote
        return _OFFER.to_representation(
            {
                "amount": application.offer_amount,
                "term": application.offer_term,
                "repayment_method": application.offer_repayment_method,
                "grade": application.offer_grade,
                "price": application.offer_price,
                "apr": application.offer_apr,
                "net_disbursement": stored["net_disbursement"],
                "insurance_premium": stored.get("insurance_premium", "0.00"),
                "total_interest": stored["total_interest"],
                "total_fees": stored["total_fees"],
                "total_cost_of_credit": stored["total_cost_of_credit"],
                "total_repayable": stored["total_repayable"],
                "expires_at": application.offer_expires_at,
                "is_counter_offer": application.is_counter_offer,
                "schedule": stored["schedule"],
            }
        )

    @extend_schema_field(ApplicationDecisionSerializer(allow_null=True))
    def get_decision(self, application: LoanApplication) -> dict | None:
        decision = application.decision
        if decision is None:
            return None
        approved = decision.outcome == Outcome.APPROVE and application.offer_apr is not None
        return _DECISION.to_representation(
            {
                "outcome": decision.outcome,
                "grade": decision.grade,
                "apr": application.offer_apr if approved else None,
                "credit_line": decision.credit_line,
                # What the merchant is told: fraud signals stay with the officers.
                "reasons": _localised(reason for reason in decision.reasons if reason.get("kind") != "fraud"),
                "decided_at": decision.decided_at,
            }
        )

    @extend_schema_field(ApplicationReasonSerializer(many=True))
    def get_decline_reasons(self, application: LoanApplication) -> list[dict]:
        return _localised(application.decline_reasons or [])


# One bound instance of each nested serializer, shared: building a serializer's fields deep-copies every declared
# field (for the offer, its 14 fields and the schedule line's 7), which cost more than the conversion itself.
# ``to_representation`` keeps no state between calls, so sharing them is safe across requests and threads.
_OFFER = ApplicationOfferSerializer()
_DECISION = ApplicationDecisionSerializer()


def _localised(reasons) -> list[dict]:
    chinese = (translation.get_language() or "").startswith("zh")
    return [
        {
            "code": reason.get("code", ""),
            "kind": reason.get("kind", ""),
            "message": (reason.get("message_zh") if chinese else None) or reason.get("message_en", ""),
            "message_en": reason.get("message_en", ""),
            "message_zh": reason.get("message_zh", ""),
        }
        for reason in reasons
    ]


# Shared, as the nested ones above: one application's answer without building the serializer's fields again.
_APPLICATION = ApplicationSerializer()


class ApplicationConflictMixin:
    """A step the application's state does not allow answers 409 with the service's reason and code."""

    def handle_exception(self, exc):
        if isinstance(exc, ApplicationConflict):
            exc = Conflict(detail=exc.message, code=exc.code)
        return super().handle_exception(exc)


def _owned(request: Request, pk: int) -> LoanApplication:
    queryset = LoanApplication.objects.select_related("product", "decision")
    return get_owned_object_or_404(queryset, user=request.user, pk=pk)


def _answer(application: LoanApplication, *, code: int = status.HTTP_200_OK) -> Response:
    fresh = LoanApplication.objects.select_related("product", "decision").get(pk=application.pk)
    return Response(_APPLICATION.to_representation(fresh), status=code)


def _answer_as_saved(application: LoanApplication, *, code: int = status.HTTP_200_OK) -> Response:
    """The answer from the instance the service has just saved, with its product and decision, not read back.

    For services that set every field they change on the instance they return and load nothing behind it
    (``application_create``, ``application_apply`` and ``application_submit``): the serializer rounds each amount
    to its field's places, so the answer is the same as from a fresh read, without the query.
    """
    return Response(_APPLICATION.to_representation(application), status=code)


class ApplicationFilter(django_filters.FilterSet):
    state = states_filter(ApplicationState.choices)
    product = django_filters.CharFilter(field_name="product__code", help_text="A product's code.")
    # Dates, in the portal's time zone, rather than moments: what a person asks for, and nothing to misread.
    created_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", help_text="Made on or after this day (YYYY-MM-DD)."
    )
    created_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", help_text="Made on or before this day (YYYY-MM-DD)."
    )

    class Meta:
        model = LoanApplication
        fields = ["state", "product", "created_from", "created_to"]


class ApplicationListCreateApi(IdempotentMixin, ApplicationConflictMixin, generics.ListAPIView):
    permission_classes = [IsMerchantOwner]
    serializer_class = ApplicationSerializer
    pagination_class = DefaultCursorPagination
    filterset_class = ApplicationFilter

    class InputSerializer(serializers.Serializer):
        # Text rather than number fields: the service checks each value against the product, so a bad value gets a
        # message naming the product's own range, as the quote endpoint gives it.
        product = serializers.CharField(max_length=40, help_text="The product's code, from GET /api/v1/products/.")
        amount = AmountField(help_text='Yuan as a string, a dot before the fen, e.g. "50000.00".')
        term = serializers.CharField(
            max_length=9,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="Days or months as the product's term_unit says; one of its allowed_terms. "
            "Leave out for a sales-share advance.",
        )
        repayment_method = serializers.CharField(
            max_length=32,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="One of the product's repayment_methods; its standard method when left out.",
        )
        submit = StrictBooleanField(
            required=False,
            default=False,
            help_text="true: submit at once and answer with the decision, in one request (nothing is kept when "
            "the decision cannot be made); false or left out: a draft, submitted later.",
        )

    def get_throttles(self):
        # Only applying is limited: reading one's own applications is not.
        if self.request.method == "POST":
            return [throttle() for throttle in APPLICATIONS_THROTTLES]
        return super().get_throttles()

    @extend_schema(
        summary="List the merchant's applications",
        description="Newest first, in cursor pages (50 a page, `page_size` up to 200), filtered by state, product "
        "and when they were made.",
        responses={200: ApplicationSerializer(many=True), 403: _NO_MERCHANT},
        examples=[examples.APPLICATION_APPROVED],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return applications_for_owner(user=self.request.user)

    @extend_schema(
        summary="Apply for a loan: a draft, or decided at once",
        description=(
            "Makes an application on a product, checked against the product's terms (each refused field is named "
            "in `fields` with what it may be). The business must be verified, and it may have at most one "
            "application in progress besides drafts. Without `submit` (or with false) the answer is a draft, to "
            'submit later; with `"submit": true` the application is submitted and decided in the same request '
            "and the answer carries the decision, as `POST …/{id}/submit/` would (approved with its offer, "
            "referred, or declined with the reasons): one round trip, and all or nothing."
        ),
        request=InputSerializer,
        responses={201: ApplicationSerializer, 403: _NO_MERCHANT},
        examples=[
            *examples.APPLY_REQUESTS,
            examples.APPLICATION_APPROVED,
            examples.APPLICATION_REFERRED,
            examples.APPLICATION_DRAFT,
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # Applying and submitting in one go is the web form's own service: decided, or nothing written at all.
        service = application_apply if values["submit"] else application_create
        application = service(
            merchant=request.user.merchant,
            product=product_by_code(code=values["product"]),
            amount=values["amount"],
            term=values.get("term") or None,
            repayment_method=values.get("repayment_method") or None,
            by=request.user,
        )
        return _answer_as_saved(application, code=status.HTTP_201_CREATED)


class ApplicationDetailApi(APIView):
    permission_classes = [IsMerchantOwner]

    @extend_schema(
        summary="Get one application, with its decision and offer",
        responses={200: ApplicationSerializer, 403: _NO_MERCHANT, 404: _NOT_YOURS},
        examples=[examples.APPLICATION_APPROVED, examples.APPLICATION_REFERRED],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_APPLICATION.to_representation(_owned(request, pk)))


class ApplicationSubmitApi(IdempotentMixin, ApplicationConflictMixin, APIView):
    permission_classes = [IsMerchantOwner]
    throttle_classes = APPLICATIONS_THROTTLES

    @extend_schema(
        operation_id="applications_submit",
        summary="Submit a draft: the automated decision comes back at once",
        description=(
            "Moves the draft to approved (with an offer: amount, APR, schedule, expiry), referred (an officer "
            "decides within one working day) or declined (with the reasons and what would change the outcome). "
            "Anything but a draft answers 409."
        ),
        request=None,
        responses={200: ApplicationSerializer, 403: _NO_MERCHANT, 404: _NOT_YOURS},
        examples=[examples.APPLICATION_APPROVED, examples.APPLICATION_REFERRED],
    )
    def post(self, request: Request, pk: int) -> Response:
        # Ownership only (404 for another's): the service locks and reads the application itself.
        owned = get_owned_object_or_404(LoanApplication.objects.all(), user=request.user, pk=pk)
        return _answer_as_saved(application_submit(application=owned, by=request.user))


class ApplicationAcceptApi(IdempotentMixin, ApplicationConflictMixin, APIView):
    permission_classes = [IsMerchantOwner]

    @extend_schema(
        operation_id="applications_accept",
        summary="Accept the offer",
        description=(
            "The contract is prepared next (see the contract endpoints). Only an approved offer, before it expires: "
            "an expired offer answers 409 with the code offer_expired, and the application is then expired."
        ),
        request=None,
        responses={200: ApplicationSerializer, 403: _NO_MERCHANT, 404: _NOT_YOURS},
        examples=[examples.APPLICATION_ACCEPTED],
    )
    def post(self, request: Request, pk: int) -> Response:
        return _answer(application_accept(application=_owned(request, pk), by=request.user))


class ApplicationWithdrawApi(IdempotentMixin, ApplicationConflictMixin, APIView):
    permission_classes = [IsMerchantOwner]

    @extend_schema_serializer(component_name="ApplicationWithdrawInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        operation_id="applications_withdraw",
        summary="Withdraw the application",
        description="Possible until the contract is ready (draft, submitted, approved or accepted); otherwise 409.",
        request=InputSerializer,
        responses={200: ApplicationSerializer, 403: _NO_MERCHANT, 404: _NOT_YOURS},
        examples=[examples.WITHDRAW_REQUEST, examples.APPLICATION_WITHDRAWN],
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = application_withdraw(
            application=_owned(request, pk), by=request.user, reason=data.validated_data.get("reason", "")
        )
        return _answer(application)


urlpatterns = [
    path("applications/", ApplicationListCreateApi.as_view(), name="application-list"),
    path("applications/<int:pk>/", ApplicationDetailApi.as_view(), name="application-detail"),
    path("applications/<int:pk>/submit/", ApplicationSubmitApi.as_view(), name="application-submit"),
    path("applications/<int:pk>/accept/", ApplicationAcceptApi.as_view(), name="application-accept"),
    path("applications/<int:pk>/withdraw/", ApplicationWithdrawApi.as_view(), name="application-withdraw"),
]
